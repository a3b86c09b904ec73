// Reads a Go CPU profile (pprof's gzipped protobuf, e.g. Caddy's admin endpoint
// `curl --unix-socket <dataDir>/caddy/admin.sock -H 'Host;' 'http://x/debug/pprof/profile?seconds=20' -o cpu.pb.gz`)
// and prints the functions with the largest share of samples, flat (the function itself) and cumulative
// (anywhere on the stack). For machines without the `go` tool.
// Run: node hack/pprof-top.ts cpu.pb.gz [rows]
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

type Field = { no: number; wire: number; value: number | Buffer };

function varint(b: Buffer, at: number): [number, number] {
  let r = 0;
  let mul = 1;
  for (;;) {
    const x = b[at++]!;
    r += (x & 0x7f) * mul;
    mul *= 128;
    if (x < 0x80) return [r, at];
  }
}

function fields(b: Buffer): Field[] {
  const out: Field[] = [];
  let at = 0;
  while (at < b.length) {
    let key: number;
    [key, at] = varint(b, at);
    const no = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      let v: number;
      [v, at] = varint(b, at);
      out.push({ no, wire, value: v });
    } else if (wire === 2) {
      let n: number;
      [n, at] = varint(b, at);
      out.push({ no, wire, value: b.subarray(at, at + n) });
      at += n;
    } else if (wire === 1) {
      out.push({ no, wire, value: b.subarray(at, at + 8) });
      at += 8;
    } else if (wire === 5) {
      out.push({ no, wire, value: b.subarray(at, at + 4) });
      at += 4;
    } else throw new Error(`pprof-top: unsupported wire type ${wire}`);
  }
  return out;
}

/** A repeated integer field, packed or not. */
function ints(f: Field): number[] {
  if (typeof f.value === 'number') return [f.value];
  const out: number[] = [];
  let at = 0;
  while (at < f.value.length) {
    let v: number;
    [v, at] = varint(f.value, at);
    out.push(v);
  }
  return out;
}

const [file, rowsArg] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node hack/pprof-top.ts <profile.pb.gz> [rows]');
  process.exit(2);
}
const rows = Number(rowsArg ?? 30);
// profile.proto: sample 2 {location_id 1, value 2}, location 4 {id 1, line 4 {function_id 1}},
// function 5 {id 1, name 2}, string_table 6.
const strings: string[] = [];
const samples: { locations: number[]; values: number[] }[] = [];
const locations = new Map<number, number[]>();
const functions = new Map<number, number>();
for (const f of fields(gunzipSync(readFileSync(file)))) {
  if (!(f.value instanceof Buffer)) continue;
  if (f.no === 6) strings.push(f.value.toString('utf8'));
  else if (f.no === 2) {
    const s = { locations: [] as number[], values: [] as number[] };
    for (const g of fields(f.value)) {
      if (g.no === 1) s.locations.push(...ints(g));
      else if (g.no === 2) s.values.push(...ints(g));
    }
    samples.push(s);
  } else if (f.no === 4) {
    let id = 0;
    const fns: number[] = [];
    for (const g of fields(f.value)) {
      if (g.no === 1 && typeof g.value === 'number') id = g.value;
      else if (g.no === 4 && g.value instanceof Buffer)
        for (const h of fields(g.value)) if (h.no === 1 && typeof h.value === 'number') fns.push(h.value);
    }
    locations.set(id, fns);
  } else if (f.no === 5) {
    let id = 0;
    let name = 0;
    for (const g of fields(f.value)) {
      if (g.no === 1 && typeof g.value === 'number') id = g.value;
      else if (g.no === 2 && typeof g.value === 'number') name = g.value;
    }
    functions.set(id, name);
  }
}
// Value index 1 is CPU time in a Go CPU profile (0 is the sample count).
const flat = new Map<string, number>();
const cum = new Map<string, number>();
let total = 0;
for (const s of samples) {
  const v = s.values[1] ?? s.values[0] ?? 0;
  total += v;
  const names = s.locations.flatMap((l) =>
    (locations.get(l) ?? []).map((fn) => strings[functions.get(fn) ?? 0]!),
  );
  if (names[0] !== undefined) flat.set(names[0], (flat.get(names[0]) ?? 0) + v);
  for (const n of new Set(names)) cum.set(n, (cum.get(n) ?? 0) + v);
}
const top = (m: Map<string, number>) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, rows)
    .map(([n, v]) => `${((v * 100) / total).toFixed(2).padStart(6)} %  ${n}`)
    .join('\n');
console.log(`${samples.length} samples, ${(total / 1e9).toFixed(2)} s of CPU`);
console.log(`--- flat\n${top(flat)}\n--- cumulative\n${top(cum)}`);

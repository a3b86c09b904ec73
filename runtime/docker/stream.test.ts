import { describe, expect, it } from 'vitest';
import { demuxLines, ndjson, splitLines } from './stream.ts';

async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === 'string' ? new TextEncoder().encode(p) : p;
  await Promise.resolve();
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function frame(type: 1 | 2, text: string): Uint8Array {
  const body = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + body.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(4, body.length);
  out.set(body, 8);
  return out;
}

/** Cuts `bytes` into pieces of `size` (to split headers, frames and UTF-8 sequences anywhere). */
function cut(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

describe('splitLines', () => {
  it.each([
    [['a\nb\n'], ['a', 'b']],
    [
      ['a', 'b\nc', '\n'],
      ['ab', 'c'],
    ],
    [['a\r\nb'], ['a', 'b']],
    [['\n\n'], ['', '']],
    [[], []],
  ])('%j → %j', async (parts, want) => {
    expect(await collect(splitLines(chunks(...parts)))).toEqual(want);
  });

  it('joins a multi-byte character split across chunks', async () => {
    const bytes = new TextEncoder().encode('héllo\n');
    expect(await collect(splitLines(chunks(bytes.subarray(0, 2), bytes.subarray(2))))).toEqual(['héllo']);
  });
});

describe('ndjson', () => {
  it('parses objects split across chunks and skips blank lines', async () => {
    const got = await collect(ndjson(chunks('{"a":1}\n\n{"b":', '2}\n{"c":3}')));
    expect(got).toEqual([{ a: 1 }, { b: 2 }, { c: 3 }]);
  });

  it('throws on a line that is not JSON, quoting it', async () => {
    await expect(collect(ndjson(chunks('{"a":1}\nnope\n')))).rejects.toThrow(/nope/);
  });
});

describe('demuxLines', () => {
  const stream = new Uint8Array([
    ...frame(1, 'out-1\nout-'),
    ...frame(2, 'err-1\n'),
    ...frame(1, '2\n'),
    ...frame(2, 'tail-without-newline'),
  ]);
  const want = [
    { stream: 'stdout', line: 'out-1' },
    { stream: 'stderr', line: 'err-1' },
    { stream: 'stdout', line: 'out-2' },
    { stream: 'stderr', line: 'tail-without-newline' },
  ];

  it.each([1, 3, 7, 8, 9, 1000])(
    'splits frames into lines per stream with chunks of %i bytes',
    async (size) => {
      expect(await collect(demuxLines(chunks(...cut(stream, size))))).toEqual(want);
    },
  );
});

/**
 * Overlay merge, left to right, as the spec says:
 * - scalars: last wins; setting FROM drops RUN and the host-only directives (USER, STOP, RELOAD),
 *   setting RUN drops FROM and the container-only ones (ENTRYPOINT, CMD, PUBLISH, VOLUME);
 * - ENV by key, PUBLISH by container port, VOLUME by destination (overlay wins, in place);
 * - REQUIRES, AFTER, ENV_FILE: appended, duplicates removed;
 * - CLEAR <list> in a file discards what earlier files gave that list;
 * - services first seen in an overlay are appended.
 * Values are expanded first (ARGs are final by then), so keys compare as they will be used.
 */
import { expand } from './args.ts';
import {
  newRawService,
  type Located,
  type RawEnv,
  type RawFile,
  type RawList,
  type RawPublish,
  type RawService,
  type RawVolume,
} from './raw.ts';

export function mergeFiles(files: readonly RawFile[], args: ReadonlyMap<string, string>): RawService[] {
  const merged = new Map<string, RawService>();
  for (const f of files) {
    for (const svc of f.services) {
      const overlay = expandService(svc, args);
      const base = merged.get(svc.name);
      if (base === undefined) merged.set(svc.name, settle(overlay));
      else mergeService(base, overlay);
    }
  }
  return [...merged.values()];
}

function mergeService(base: RawService, o: RawService): RawService {
  const s = base.scalars;
  if (o.scalars.has('RUN') && s.has('FROM')) {
    for (const d of ['FROM', 'ENTRYPOINT', 'CMD'] as const) s.delete(d);
    base.publish.entries = [];
    base.volumes.entries = [];
  }
  if (o.scalars.has('FROM') && s.has('RUN')) {
    for (const d of ['RUN', 'USER', 'STOP', 'RELOAD'] as const) s.delete(d);
  }
  for (const [d, v] of o.scalars) s.set(d, v);

  mergeKeyed(base.env, o.env, envKey, 'last');
  mergeKeyed(base.publish, o.publish, publishKey, 'all');
  mergeKeyed(base.volumes, o.volumes, volumeKey, 'all');
  mergeUnique(base.envFiles, o.envFiles);
  mergeUnique(base.requires, o.requires);
  mergeUnique(base.after, o.after);
  return base;
}

const envKey = (e: RawEnv): string => e.key;
const publishKey = (p: RawPublish): string => p.container;
const volumeKey = (v: RawVolume): string => v.destination;
const same = (s: string): string => s;

/**
 * A service's first file merged into nothing, in place: the same result as
 * `mergeService(newRawService(o.name, o.pos), o)` without copying every list. `o` must be this
 * merge's own copy (expandService makes one). Only a list whose keys repeat is regrouped.
 */
function settle(o: RawService): RawService {
  settleList(o.env, envKey, (l, e) => mergeKeyed(l, e, envKey, 'last'));
  settleList(o.publish, publishKey, (l, e) => mergeKeyed(l, e, publishKey, 'all'));
  settleList(o.volumes, volumeKey, (l, e) => mergeKeyed(l, e, volumeKey, 'all'));
  settleList(o.envFiles, same, mergeUnique);
  settleList(o.requires, same, mergeUnique);
  settleList(o.after, same, mergeUnique);
  return o;
}

function settleList<T>(
  list: RawList<T>,
  keyOf: (v: T) => string,
  merge: (base: RawList<T>, overlay: RawList<T>) => void,
): void {
  list.cleared = false;
  const entries = list.entries;
  if (distinctKeys(entries, keyOf)) return;
  list.entries = [];
  merge(list, { cleared: false, entries });
}

function distinctKeys<T>(entries: readonly Located<T>[], keyOf: (v: T) => string): boolean {
  const n = entries.length;
  if (n > 8) return new Set(entries.map((e) => keyOf(e.value))).size === n;
  for (let i = 1; i < n; i++) {
    const k = keyOf(entries[i]!.value);
    for (let j = 0; j < i; j++) if (keyOf(entries[j]!.value) === k) return false;
  }
  return true;
}

/**
 * Overlay entries replace base entries with the same key, at the first one's place; new keys are
 * appended. Within one file, `last` keeps only the last entry per key (ENV), `all` keeps every
 * entry (one container port may be published on several host ports).
 */
function mergeKeyed<T>(
  base: RawList<T>,
  overlay: RawList<T>,
  keyOf: (v: T) => string,
  withinFile: 'last' | 'all',
): void {
  if (overlay.cleared) base.entries = [];
  const byKey = new Map<string, Located<T>[]>();
  for (const e of overlay.entries) {
    const k = keyOf(e.value);
    const list = byKey.get(k);
    if (list === undefined) byKey.set(k, [e]);
    else if (withinFile === 'last') list[0] = e;
    else list.push(e);
  }
  const out: Located<T>[] = [];
  for (const e of base.entries) {
    const k = keyOf(e.value);
    const replacement = byKey.get(k);
    if (replacement === undefined) out.push(e);
    else if (replacement.length > 0) {
      out.push(...replacement);
      byKey.set(k, []);
    }
  }
  for (const list of byKey.values()) out.push(...list);
  base.entries = out;
}

function mergeUnique(base: RawList<string>, overlay: RawList<string>): void {
  if (overlay.cleared) base.entries = [];
  const seen = new Set(base.entries.map((e) => e.value));
  for (const e of overlay.entries) {
    if (seen.has(e.value)) continue;
    seen.add(e.value);
    base.entries.push(e);
  }
}

function expandService(svc: RawService, args: ReadonlyMap<string, string>): RawService {
  const out = newRawService(svc.name, svc.pos);
  // Entries without `${` are shared, not copied: merging only reads overlay entries.
  const scalars = out.scalars;
  svc.scalars.forEach((v, d) => {
    scalars.set(d, v.value.includes('${') ? { value: expand(v.value, args), pos: v.pos } : v);
  });
  expandList(svc.env, out.env, args, envExpand);
  expandList(svc.publish, out.publish, args, publishExpand);
  expandList(svc.volumes, out.volumes, args, volumeExpand);
  expandList(svc.envFiles, out.envFiles, args, expand);
  expandList(svc.requires, out.requires, args, expand);
  expandList(svc.after, out.after, args, expand);
  return out;
}

/** Copies `from` into `to`, expanding each entry with `f`, which returns its argument when nothing changes. */
function expandList<T>(
  from: RawList<T>,
  to: RawList<T>,
  args: ReadonlyMap<string, string>,
  f: (v: T, args: ReadonlyMap<string, string>) => T,
): void {
  to.cleared = from.cleared;
  const entries = from.entries;
  const n = entries.length;
  if (n === 0) return;
  const copy = new Array<Located<T>>(n);
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    const v = f(e.value, args);
    copy[i] = v === e.value ? e : { value: v, pos: e.pos };
  }
  to.entries = copy;
}

function envExpand(e: RawEnv, args: ReadonlyMap<string, string>): RawEnv {
  const key = expand(e.key, args);
  const value = expand(e.value, args);
  return key === e.key && value === e.value ? e : { key, value };
}

function publishExpand(p: RawPublish, args: ReadonlyMap<string, string>): RawPublish {
  const address = expand(p.address, args);
  const host = expand(p.host, args);
  const container = expand(p.container, args);
  return address === p.address && host === p.host && container === p.container
    ? p
    : { address, host, container };
}

function volumeExpand(v: RawVolume, args: ReadonlyMap<string, string>): RawVolume {
  const source = expand(v.source, args);
  const destination = expand(v.destination, args);
  return source === v.source && destination === v.destination ? v : { source, destination };
}

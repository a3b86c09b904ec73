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
import { newRawService, type Located, type RawFile, type RawList, type RawService } from './raw.ts';

export function mergeFiles(files: readonly RawFile[], args: ReadonlyMap<string, string>): RawService[] {
  const merged = new Map<string, RawService>();
  for (const f of files) {
    for (const svc of f.services) {
      const overlay = expandService(svc, args);
      const base = merged.get(svc.name);
      if (base === undefined) merged.set(svc.name, mergeService(newRawService(svc.name, svc.pos), overlay));
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

  mergeKeyed(base.env, o.env, (e) => e.key, 'last');
  mergeKeyed(base.publish, o.publish, (p) => p.container, 'all');
  mergeKeyed(base.volumes, o.volumes, (v) => v.destination, 'all');
  mergeUnique(base.envFiles, o.envFiles);
  mergeUnique(base.requires, o.requires);
  mergeUnique(base.after, o.after);
  return base;
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
  const x = (s: string): string => expand(s, args);
  const out = newRawService(svc.name, svc.pos);
  // Entries without `${` are shared, not copied: merging only reads overlay entries.
  for (const [d, v] of svc.scalars)
    out.scalars.set(d, v.value.includes('${') ? { value: x(v.value), pos: v.pos } : v);
  const map = <T>(from: RawList<T>, to: RawList<T>, has: (v: T) => boolean, f: (v: T) => T): void => {
    to.cleared = from.cleared;
    to.entries = from.entries.map((e) => (has(e.value) ? { value: f(e.value), pos: e.pos } : e));
  };
  const has = (s: string): boolean => s.includes('${');
  map(
    svc.env,
    out.env,
    (e) => has(e.key) || has(e.value),
    (e) => ({ key: x(e.key), value: x(e.value) }),
  );
  map(
    svc.publish,
    out.publish,
    (p) => has(p.address) || has(p.host) || has(p.container),
    (p) => ({ address: x(p.address), host: x(p.host), container: x(p.container) }),
  );
  map(
    svc.volumes,
    out.volumes,
    (v) => has(v.source) || has(v.destination),
    (v) => ({ source: x(v.source), destination: x(v.destination) }),
  );
  map(svc.envFiles, out.envFiles, has, x);
  map(svc.requires, out.requires, has, x);
  map(svc.after, out.after, has, x);
  return out;
}

/**
 * What applying a snapshot would change on this node, computed the way the controllers would
 * act on it (`orun diff`, like `kubectl diff` / `flux diff`):
 *  - Deployment: in the snapshot only → created; in the store only → pruned; a spec that differs
 *    → replaced (a new container), with the fields that differ;
 *  - Service: created / pruned; a changed `deployment` or `ingress` → rerouted;
 *  - ServiceGraph: created / pruned; otherwise the services whose definition hash changes, plus
 *    every service that REQUIRES one of them, restart; services no longer selected stop.
 * A secret (`ENC[...]`) field is compared by plaintext and reported only as changed/unchanged;
 * a re-encryption of the same value is not a change. Pure: the agent supplies both sides.
 */
import { objectKey, type ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { FieldChange, ObjectChange } from '../../runtime/api/diff.ts';
import { isEncryptedValue, type SecretString } from '../../runtime/sops/index.ts';

/** A ServiceGraph's services at one side: definition hash and REQUIRES of each. */
export interface GraphShape {
  hashes: Readonly<Record<string, string>>;
  requires: Readonly<Record<string, readonly string[]>>;
}

export interface PlanInput {
  /** What the store holds now (any kinds; only Deployment, Service, ServiceGraph are compared). */
  current: readonly ApiObject[];
  /** The snapshot the tree would give this node. */
  next: readonly ApiObject[];
  /** Plaintext of a secret value the store holds (ciphertext → SecretString). */
  currentSecret: (ciphertext: string) => SecretString | undefined;
  /** Plaintext of a secret value of the tree. */
  nextSecret: (ciphertext: string) => SecretString | undefined;
  /** A ServiceGraph's services at either side; undefined when its Orchfiles cannot be read. */
  graph?: (sg: ApiObject, side: 'current' | 'next') => GraphShape | undefined;
  /**
   * True when the change of `key` waits for a resume; `next` is the object in the snapshot (its
   * annotation counts; a deleted object loses it). Default: nothing is suspended.
   */
  suspended?: (key: string, next: ApiObject | undefined) => boolean;
}

const KINDS = ['Deployment', 'Service', 'ServiceGraph'] as const;
type Kind = (typeof KINDS)[number];

export function planChanges(input: PlanInput): ObjectChange[] {
  const index = (objs: readonly ApiObject[]): Map<string, ApiObject> =>
    new Map(
      objs
        .filter((o) => (KINDS as readonly string[]).includes(o.kind))
        .map((o) => [objectKey(o.kind, o.metadata.name), o]),
    );
  const before = index(input.current);
  const after = index(input.next);
  const out: ObjectChange[] = [];
  for (const key of [...new Set([...before.keys(), ...after.keys()])].sort(byKindThenName)) {
    const a = before.get(key);
    const b = after.get(key);
    const obj = (b ?? a)!;
    const kind = obj.kind as Kind;
    const base = { kind, name: obj.metadata.name };
    let change: ObjectChange | undefined;
    if (a === undefined) change = { ...base, action: 'created' };
    else if (b === undefined) change = { ...base, action: 'pruned' };
    else {
      const fields = specChanges(a.spec, b.spec, input);
      const real = fields.filter((f) => !('secret' in f) || f.secret !== 'unchanged');
      if (kind === 'ServiceGraph') change = graphChange(base, a, b, fields, real.length > 0, input);
      else if (real.length > 0)
        change = { ...base, action: kind === 'Deployment' ? 'replaced' : rerouted(real), fields };
    }
    if (change === undefined) continue;
    if (input.suspended?.(key, b) === true) change.suspended = true;
    out.push(change);
  }
  return out;
}

function rerouted(fields: readonly FieldChange[]): ObjectChange['action'] {
  return fields.some((f) => f.path === 'spec.deployment' || f.path.startsWith('spec.ingress'))
    ? 'rerouted'
    : 'updated';
}

function graphChange(
  base: { kind: Kind; name: string },
  a: ApiObject,
  b: ApiObject,
  fields: FieldChange[],
  specDiffers: boolean,
  input: PlanInput,
): ObjectChange | undefined {
  const before = input.graph?.(a, 'current');
  const after = input.graph?.(b, 'next');
  if (before === undefined || after === undefined)
    return specDiffers ? { ...base, action: 'updated', fields } : undefined;
  const changed = Object.keys(after.hashes).filter((s) => before.hashes[s] !== after.hashes[s]);
  const restarted = withDependents(changed, after).sort();
  const stopped = Object.keys(before.hashes)
    .filter((s) => after.hashes[s] === undefined)
    .sort();
  if (restarted.length === 0 && stopped.length === 0) return undefined;
  return {
    ...base,
    action: 'restarted',
    ...(fields.length > 0 ? { fields } : {}),
    services: { restarted, stopped },
  };
}

/** `changed` plus every service that REQUIRES one of them, transitively. */
function withDependents(changed: readonly string[], g: GraphShape): string[] {
  const out = new Set(changed);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [s, reqs] of Object.entries(g.requires)) {
      if (!out.has(s) && reqs.some((r) => out.has(r)) && g.hashes[s] !== undefined) {
        out.add(s);
        grew = true;
      }
    }
  }
  return [...out];
}

/** The leaves of two specs that differ (maps walked, lists compared whole). */
export function specChanges(
  a: unknown,
  b: unknown,
  input: Pick<PlanInput, 'currentSecret' | 'nextSecret'>,
): FieldChange[] {
  const out: FieldChange[] = [];
  walk('spec', a, b, input, out);
  return out;
}

function walk(
  path: string,
  a: unknown,
  b: unknown,
  input: Pick<PlanInput, 'currentSecret' | 'nextSecret'>,
  out: FieldChange[],
): void {
  const secretA = typeof a === 'string' && isEncryptedValue(a);
  const secretB = typeof b === 'string' && isEncryptedValue(b);
  if (secretA || secretB) {
    if (a === b) return;
    if (!secretA) out.push({ path, secret: a === undefined ? 'added' : 'changed' });
    else if (!secretB) out.push({ path, secret: b === undefined ? 'removed' : 'changed' });
    else {
      const pa = input.currentSecret(a);
      const pb = input.nextSecret(b);
      out.push({
        path,
        secret: pa !== undefined && pb !== undefined && pa.equals(pb) ? 'unchanged' : 'changed',
      });
    }
    return;
  }
  if (isMap(a) && isMap(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort())
      walk(`${path}.${k}`, a[k], b[k], input, out);
    return;
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  out.push({ path, ...(a === undefined ? {} : { from: a }), ...(b === undefined ? {} : { to: b }) });
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const KIND_ORDER: Readonly<Record<string, number>> = { Deployment: 0, Service: 1, ServiceGraph: 2 };

function byKindThenName(x: string, y: string): number {
  const [kx = '', ...nx] = x.split('/');
  const [ky = '', ...ny] = y.split('/');
  return (KIND_ORDER[kx] ?? 9) - (KIND_ORDER[ky] ?? 9) || nx.join('/').localeCompare(ny.join('/'));
}

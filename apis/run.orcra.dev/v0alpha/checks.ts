/**
 * Cross-object checks over a whole repository snapshot: duplicate names, a Service naming a
 * missing Deployment, host port and domain clashes on one node. Pure: no I/O.
 */
import { SOURCE_ANNOTATION } from './meta.ts';
import type { Deployment } from './deployment.ts';
import type { Locator } from './decode.ts';
import {
  ManifestError,
  ManifestErrorCode,
  compareManifestErrors,
  formatPath,
  suggest,
} from './manifesterror.ts';
import type { Node } from './node.ts';
import { type PlacementSpec, placementsOverlap, selectsNode } from './placement.ts';
import type { AnyObject } from './scheme.ts';
import type { Service } from './service.ts';

export interface CheckOptions {
  /** Positions of fields (from decodeManifestFile / loadManifestRepo). Default: each object's source file at 1:1. */
  locate?: Locator;
}

export interface CheckResult {
  errors: ManifestError[];
  warnings: ManifestError[];
}

/**
 * Runs every cross-object check on a snapshot of decoded objects.
 *
 * @example
 * const { errors } = checkObjects(repo.objects, { locate: repo.locate });
 */
export function checkObjects(objects: readonly AnyObject[], options: CheckOptions = {}): CheckResult {
  const out: CheckResult = { errors: [], warnings: [] };
  const ctx = new Context(options.locate, out);
  checkDuplicateNames(objects, ctx);
  const nodes = objects.filter((o): o is Node => o.kind === 'Node');
  const deployments = objects.filter((o): o is Deployment => o.kind === 'Deployment');
  const services = objects.filter((o): o is Service => o.kind === 'Service');
  checkServiceReferences(services, deployments, ctx);
  checkHostPorts(deployments, nodes, ctx);
  checkDomains(services, nodes, ctx);
  checkPlacementsMatch(objects, nodes, ctx);
  out.errors.sort(compareManifestErrors);
  out.warnings.sort(compareManifestErrors);
  return out;
}

class Context {
  readonly #locate: Locator | undefined;
  readonly #out: CheckResult;

  constructor(locate: Locator | undefined, out: CheckResult) {
    this.#locate = locate;
    this.#out = out;
  }

  /** `file:line:col` of a field, for messages that point at a second object. */
  where(obj: AnyObject, path: readonly PropertyKey[]): string {
    const p = this.#position(obj, path);
    return `${p.file}:${p.line}:${p.col}`;
  }

  report(
    obj: AnyObject,
    path: readonly PropertyKey[],
    message: string,
    code: ManifestErrorCode,
    warning = false,
  ): void {
    const e = new ManifestError({
      ...this.#position(obj, path),
      path: formatPath(path),
      message,
      code,
      severity: warning ? 'warning' : 'error',
    });
    (warning ? this.#out.warnings : this.#out.errors).push(e);
  }

  #position(obj: AnyObject, path: readonly PropertyKey[]): { file: string; line: number; col: number } {
    const found = this.#locate?.(obj, path);
    if (found) return found;
    const source = obj.metadata.annotations?.[SOURCE_ANNOTATION] ?? `${obj.kind}/${obj.metadata.name}`;
    const at = source.lastIndexOf('@');
    return { file: at < 0 ? source : source.slice(0, at), line: 1, col: 1 };
  }
}

function checkDuplicateNames(objects: readonly AnyObject[], ctx: Context): void {
  const first = new Map<string, AnyObject>();
  for (const obj of objects) {
    const key = `${obj.kind}/${obj.metadata.name}`;
    const seen = first.get(key);
    if (seen === undefined) first.set(key, obj);
    else
      ctx.report(
        obj,
        ['metadata', 'name'],
        `duplicate ${obj.kind} "${obj.metadata.name}", first defined at ${ctx.where(seen, ['metadata', 'name'])}`,
        ManifestErrorCode.DuplicateName,
      );
  }
}

function checkServiceReferences(
  services: readonly Service[],
  deployments: readonly Deployment[],
  ctx: Context,
): void {
  const byName = new Map(deployments.map((d) => [d.metadata.name, d]));
  for (const svc of services) {
    const name = svc.spec.deployment;
    const dep = byName.get(name);
    if (dep === undefined) {
      const near = suggest(name, [...byName.keys()]);
      const hint = near === undefined ? '' : `, did you mean "${near}"?`;
      ctx.report(
        svc,
        ['spec', 'deployment'],
        `Deployment "${name}" not found${hint}`,
        ManifestErrorCode.MissingReference,
      );
      continue;
    }
    const want = svc.spec.ingress.port;
    if (want !== undefined && !dep.spec.ports.some((p) => p.containerPort === want)) {
      ctx.report(
        svc,
        ['spec', 'ingress', 'port'],
        `Deployment "${name}" publishes no containerPort ${want}`,
        ManifestErrorCode.MissingReference,
      );
    } else if (dep.spec.ports.length === 0) {
      ctx.report(
        svc,
        ['spec', 'deployment'],
        `Deployment "${name}" publishes no ports, so the Service has nothing to route to`,
        ManifestErrorCode.MissingReference,
        true,
      );
    }
  }
}

/** The name of a node both placements select, or `""` when no Nodes are known and they may share one. */
function sharedNode(a: PlacementSpec, b: PlacementSpec, nodes: readonly Node[]): string | undefined {
  if (nodes.length === 0) return placementsOverlap(a, b) ? '' : undefined;
  return nodes.find((n) => selectsNode({ spec: a }, n) && selectsNode({ spec: b }, n))?.metadata.name;
}

function onNode(node: string): string {
  return node === '' ? '' : ` on node "${node}"`;
}

function checkHostPorts(deployments: readonly Deployment[], nodes: readonly Node[], ctx: Context): void {
  const claims: { dep: Deployment; index: number; key: string }[] = [];
  for (const dep of deployments) {
    dep.spec.ports.forEach((p, index) => {
      if (p.port === undefined) return; // internal: never published
      const key = `${p.port}/${p.protocol}`;
      const path = ['spec', 'ports', index, 'port'];
      const own = claims.find((c) => c.dep === dep && c.key === key);
      if (own) {
        ctx.report(
          dep,
          path,
          `host port ${key} is already published by spec.ports[${own.index}]`,
          ManifestErrorCode.HostPortConflict,
        );
        return;
      }
      for (const c of claims) {
        if (c.key !== key || c.dep === dep) continue;
        const node = sharedNode(c.dep.spec, dep.spec, nodes);
        if (node === undefined) continue;
        ctx.report(
          dep,
          path,
          `host port ${key} is also claimed by Deployment "${c.dep.metadata.name}" (${ctx.where(c.dep, ['spec', 'ports', c.index, 'port'])})${onNode(node)}`,
          ManifestErrorCode.HostPortConflict,
        );
        break;
      }
      claims.push({ dep, index, key });
    });
  }
}

function checkDomains(services: readonly Service[], nodes: readonly Node[], ctx: Context): void {
  for (const field of ['default', 'environment'] as const) {
    const seen: Service[] = [];
    for (const svc of services) {
      const domain = svc.spec.ingress.domain[field]?.toLowerCase();
      if (domain === undefined) continue;
      const other = seen.find(
        (s) =>
          s.spec.ingress.domain[field]?.toLowerCase() === domain &&
          sharedNode(s.spec, svc.spec, nodes) !== undefined,
      );
      const path = ['spec', 'ingress', 'domain', field];
      if (other) {
        ctx.report(
          svc,
          path,
          `domain "${domain}" is also claimed by Service "${other.metadata.name}" (${ctx.where(other, path)})`,
          ManifestErrorCode.DomainConflict,
        );
      }
      seen.push(svc);
    }
  }
}

function checkPlacementsMatch(objects: readonly AnyObject[], nodes: readonly Node[], ctx: Context): void {
  if (nodes.length === 0) return;
  for (const obj of objects) {
    if (obj.kind === 'Node') continue;
    const { nodeName, nodeSelector } = obj.spec;
    if (nodeName === undefined && nodeSelector === undefined) continue;
    if (nodes.some((n) => selectsNode(obj, n))) continue;
    const path = nodeName !== undefined ? ['spec', 'nodeName'] : ['spec', 'nodeSelector'];
    ctx.report(obj, path, 'selects no Node in this repository', ManifestErrorCode.MissingReference, true);
  }
}

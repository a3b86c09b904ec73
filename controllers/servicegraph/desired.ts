/**
 * The desired graph of a ServiceGraph: its Orchfiles read from the checkout of the applied
 * revision, parsed with `spec.args` as `--arg` overrides, the selection from `spec.services`, and
 * hashes that tell what changed. Pure apart from the injected `readFile`.
 *
 * - `serviceHashes[s]` covers everything that shapes service `s` (its merged, ARG-expanded spec
 *   and the built-in variables); a change restarts `s` and whatever REQUIRES it.
 * - `hash` covers every selected service's hash: equal hashes mean nothing to do.
 * Not covered: the contents of ENV_FILE files (read at each start) and images behind a tag.
 */
import { createHash } from 'node:crypto';
import { dirname, join, posix } from 'node:path';
import { errorMessage } from '../../apis/errors.ts';
import { formatOrchfileError, parseOrchfiles, type OrchGraph } from '../../apis/orchfile/index.ts';
import { SOURCE_ANNOTATION } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { ServiceGraphSpec } from '../../apis/run.orcra.dev/v0alpha/servicegraph.ts';
import { selectServices, serviceHash, startOrder } from '../../runtime/graph/index.ts';
import type { DeepReadonly } from '../../runtime/store/index.ts';

/** The `run.orcra.dev/managed-by` value of this controller's containers (never `orun` or `orch`). */
export const MANAGED_BY = 'orun-servicegraph';

export const Label = {
  servicegraph: 'run.orcra.dev/servicegraph',
  node: 'run.orcra.dev/node',
} as const;

/** A checked-out commit: the informer's current revision once applied. */
export interface Checkout {
  /** Absolute path of the working tree. */
  readonly dir: string;
  readonly commit: string;
}

export interface DesiredGraph {
  readonly graph: OrchGraph;
  /** The selected services (their REQUIRES included) in start order. */
  readonly services: readonly string[];
  readonly serviceHashes: Readonly<Record<string, string>>;
  readonly hash: string;
  /** Built-in variables (ORCH_PROJECT: the first Orchfile's directory in the checkout). */
  readonly vars: Readonly<Record<string, string>> & { readonly ORCH_PROJECT: string };
  readonly project: string;
}

export type DesiredResult = { ok: true; desired: DesiredGraph } | { ok: false; errors: string[] };

export interface DesiredInput {
  readonly name: string;
  readonly spec: DeepReadonly<ServiceGraphSpec>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * The graph's project is its name, as `orch up -p <name>` calls it: named volumes are
 * `<name>_<volume>` and the network `<name>_default` under both, so a project moved into the
 * agent finds its data. Also the `orch.project` label.
 */
export function projectName(name: string): string {
  return name;
}

/** `<containerPrefix>orun-sg-<name>-<service>` (never an orch container's `<project>-<service>`). */
export function containerName(name: string, service: string, prefix = ''): string {
  return `${prefix}orun-sg-${name}-${service}`;
}

/** Selector of this graph's containers on this node. */
export function graphSelector(name: string, nodeName: string): Record<string, string> {
  return { 'run.orcra.dev/managed-by': MANAGED_BY, [Label.servicegraph]: name, [Label.node]: nodeName };
}

/** Selector of every ServiceGraph container on this node. */
export function nodeSelector(nodeName: string): Record<string, string> {
  return { 'run.orcra.dev/managed-by': MANAGED_BY, [Label.node]: nodeName };
}

/** `<dataDir>/servicegraphs/<name>`: run state, logs, ORCH_DATA, ORCH_STATE_DIR, named volumes. */
export function graphDir(dataDir: string, name: string): string {
  return join(dataDir, 'servicegraphs', name);
}

export function loadDesired(
  sg: DesiredInput,
  checkout: Checkout,
  o: { dataDir: string; readFile: (path: string) => string },
): DesiredResult {
  const errors: string[] = [];
  const sources = [];
  for (const path of sg.spec.orchfiles) {
    try {
      sources.push({ path, text: o.readFile(join(checkout.dir, path)) });
    } catch (err) {
      errors.push(
        `${path}:1:1: cannot read the Orchfile at ${checkout.commit.slice(0, 7)}: ${readError(err)}`,
      );
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  const parsed = parseOrchfiles(sources, { args: { ...sg.spec.args } });
  if (!parsed.ok) return { ok: false, errors: parsed.errors.map(formatOrchfileError) };
  let selected;
  try {
    selected = selectServices(parsed.graph, sg.spec.services);
  } catch (err) {
    return { ok: false, errors: [`${manifestPath(sg)}:1:1: spec.services: ${errorMessage(err)}`] };
  }
  const dir = graphDir(o.dataDir, sg.name);
  const vars = {
    ORCH_PROJECT: join(checkout.dir, dirname(sg.spec.orchfiles[0]!)),
    ORCH_DATA: join(dir, 'data'),
    ORCH_STATE_DIR: join(dir, 'state'),
    // Only when set: a graph without them keeps its config hashes (nothing restarts on upgrade).
    ...(sg.spec.portOffset === undefined ? {} : { PORT_OFFSET: String(sg.spec.portOffset) }),
    ...(sg.spec.containerPrefix === undefined ? {} : { CONTAINER_PREFIX: sg.spec.containerPrefix }),
  };
  const names = new Set(selected.map((s) => s.name));
  const services = startOrder({ ...parsed.graph, services: selected }).filter((s) => names.has(s));
  const serviceHashes: Record<string, string> = {};
  for (const s of selected) serviceHashes[s.name] = serviceHash(s, vars);
  return {
    ok: true,
    desired: {
      graph: parsed.graph,
      services,
      serviceHashes,
      hash: digest(services.map((s) => [s, serviceHashes[s]])),
      vars,
      project: projectName(sg.name),
    },
  };
}

function digest(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);
}

function readError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file in the repository';
  if (code === 'EISDIR') return 'a directory, not a file';
  return errorMessage(err);
}

/** The manifest's file from its source annotation (`path@commit`), for error positions. */
function manifestPath(sg: DesiredInput): string {
  const src = sg.annotations?.[SOURCE_ANNOTATION];
  return src === undefined ? posix.join('servicegraphs', `${sg.name}.yaml`) : src.replace(/@[^@]*$/, '');
}

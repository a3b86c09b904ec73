/**
 * The `orunctl get` columns of each kind. Cells read the wire object (status facts as defined in
 * apis/run.orcra.dev/v0alpha); an empty cell prints `<none>`.
 */
import type { Condition } from '../../../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { Deployment } from '../../../../apis/run.orcra.dev/v0alpha/deployment.ts';
import type { Node } from '../../../../apis/run.orcra.dev/v0alpha/node.ts';
import type { Service } from '../../../../apis/run.orcra.dev/v0alpha/service.ts';
import type { ServiceGraph } from '../../../../apis/run.orcra.dev/v0alpha/servicegraph.ts';
import type { WireObject } from '../../../api/types.ts';
import { age } from './duration.ts';

export interface Column {
  header: string;
  /** Shown only with -o wide. */
  wide?: boolean;
  cell(obj: WireObject, now: Date): string;
}

const name: Column = { header: 'NAME', cell: (o) => o.metadata.name };
const ageColumn: Column = { header: 'AGE', cell: (o, now) => age(o.metadata.creationTimestamp, now) };

function condition(o: WireObject, type: string): Condition | undefined {
  return o.status?.conditions?.find((c) => c.type === type);
}

/** The one-word state of a Deployment, like a Pod's STATUS column. */
export function deploymentState(o: WireObject): string {
  const d = o as unknown as Deployment;
  if (o.status?.suspended === true) return 'Suspended';
  const stalled = condition(o, 'Stalled');
  if (stalled?.status === 'True') return stalled.reason;
  // A spec the controller has not finished acting on (e.g. replacing the container): the rest
  // of the status still describes the previous generation, as kstatus reads it.
  const generation = o.metadata.generation;
  const observed = d.status?.observedGeneration;
  // The engine does not answer: the rest of the status is what was last known.
  const ready = condition(o, 'Ready');
  if (ready?.status === 'Unknown' && ready.reason === 'EngineUnavailable') return ready.reason;
  if (generation !== undefined && observed !== undefined && observed < generation) return 'Progressing';
  // Work in progress while a container serves (Ready), e.g. a RollingUpdate's phase
  // (RollingUpdate, SwitchingTraffic, Draining) or Pulling: said, as `kubectl rollout status` would.
  const reconciling = condition(o, 'Reconciling');
  if (reconciling?.status === 'True' && reconciling.reason !== '') return reconciling.reason;
  if (condition(o, 'Ready')?.status === 'True' || d.status?.ready === true) return 'Running';
  if (ready?.status === 'False' && ready.reason !== '') return ready.reason;
  return d.status?.containerID === undefined ? 'Pending' : 'NotReady';
}

function ports(d: Deployment): string {
  const list = d.status?.ports ?? d.spec.ports ?? [];
  return list.map((p) => `${p.port}->${p.containerPort}/${p.protocol ?? 'tcp'}`).join(',');
}

function restarts(d: Deployment, now: Date): string {
  const n = d.status?.restarts ?? 0;
  return n > 0 && d.status?.startedAt !== undefined
    ? `${n} (${age(d.status.startedAt, now)} ago)`
    : String(n);
}

function image(d: Deployment): string {
  if (d.status?.image !== undefined) return d.status.image;
  if (d.spec.image !== undefined) return d.spec.image;
  return d.spec.build === undefined ? '' : `build:${d.spec.build.context}`;
}

function placement(spec: {
  nodeName?: string;
  nodeSelector?: { matchLabels?: Record<string, string> };
}): string {
  if (spec.nodeName !== undefined) return spec.nodeName;
  return Object.entries(spec.nodeSelector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** `True` while suspended (orunctl suspend, the annotation, or the whole node), as `flux get` shows SUSPENDED. */
const suspendedColumn: Column = {
  header: 'SUSPENDED',
  cell: (o) => (o.status?.suspended === true ? 'True' : 'False'),
};

const short = (id: string | undefined, n = 12): string => (id ?? '').replace(/^sha256:/, '').slice(0, n);

/**
 * A Git revision as Flux writes it (`main@sha1:<40 hex>`, or a bare sha) with the sha cut to 7
 * digits as `git log --oneline` does; the `<branch>@sha1:` part stays, so the cell says what it is.
 */
export function shortRevision(revision: string | undefined): string {
  return (revision ?? '').replace(/([0-9a-f]{7})[0-9a-f]{5,}$/, '$1');
}

const deploymentColumns: Column[] = [
  name,
  { header: 'READY', cell: (o) => ((o as unknown as Deployment).status?.ready === true ? '1/1' : '0/1') },
  { header: 'STATUS', cell: (o) => deploymentState(o) },
  { header: 'RESTARTS', cell: (o, now) => restarts(o as unknown as Deployment, now) },
  { header: 'IMAGE', cell: (o) => image(o as unknown as Deployment) },
  { header: 'PORTS', cell: (o) => ports(o as unknown as Deployment) },
  ageColumn,
  { header: 'CONTAINER', wide: true, cell: (o) => short((o as unknown as Deployment).status?.containerID) },
  { header: 'IMAGE ID', wide: true, cell: (o) => short((o as unknown as Deployment).status?.imageID) },
  { header: 'NODE', wide: true, cell: (o) => placement((o as unknown as Deployment).spec) },
];

const serviceColumns: Column[] = [
  name,
  { header: 'DEPLOYMENT', cell: (o) => (o as unknown as Service).spec.deployment },
  { header: 'URL', cell: (o) => (o as unknown as Service).status?.url ?? '' },
  { header: 'TLS', cell: (o) => String((o as unknown as Service).spec.ingress?.ssl === true) },
  { header: 'READY', cell: (o) => condition(o, 'Ready')?.status ?? 'Unknown' },
  ageColumn,
  { header: 'UPSTREAM', wide: true, cell: (o) => (o as unknown as Service).status?.upstream ?? '' },
  { header: 'NODE', wide: true, cell: (o) => placement((o as unknown as Service).spec) },
];

/** A Node's STATUS, as `kubectl get nodes` shows Ready: `Ready`, else why not (EngineUnavailable …). */
export function nodeState(o: WireObject): string {
  const ready = condition(o, 'Ready');
  if (ready?.status === 'True') return 'Ready';
  return ready?.status === 'False' && ready.reason !== '' ? ready.reason : 'Unknown';
}

const nodeColumns: Column[] = [
  name,
  { header: 'STATUS', cell: (o) => nodeState(o) },
  {
    header: 'BRANCH',
    cell: (o) => {
      const n = o as unknown as Node;
      return n.status?.branch ?? n.spec.gitBranch ?? 'main';
    },
  },
  { header: 'REVISION', cell: (o) => shortRevision((o as unknown as Node).status?.revision) },
  {
    header: 'SYNCED',
    cell: (o, now) => {
      const t = (o as unknown as Node).status?.lastSyncTime;
      return t === undefined ? '' : `${age(t, now)} ago`;
    },
  },
  suspendedColumn,
  ageColumn,
  { header: 'HOST', wide: true, cell: (o) => (o as unknown as Node).spec.host },
  { header: 'REPOSITORY', wide: true, cell: (o) => (o as unknown as Node).spec.gitRepo },
  { header: 'ENVIRONMENT', wide: true, cell: (o) => (o as unknown as Node).status?.environment ?? '' },
];

function graphServices(o: WireObject): { names: string[]; ready: number; known: boolean } {
  const g = o as unknown as ServiceGraph;
  const status = g.status?.services;
  if (status !== undefined) {
    return {
      names: status.map((s) => s.name),
      ready: status.filter((s) => s.ready === true).length,
      known: true,
    };
  }
  return { names: g.spec.services ?? [], ready: 0, known: false };
}

const serviceGraphColumns: Column[] = [
  name,
  { header: 'SERVICES', cell: (o) => graphServices(o).names.join(',') },
  {
    header: 'READY',
    cell: (o) => {
      const s = graphServices(o);
      return s.known ? `${s.ready}/${s.names.length}` : '';
    },
  },
  suspendedColumn,
  ageColumn,
  {
    header: 'ORCHFILES',
    wide: true,
    cell: (o) => ((o as unknown as ServiceGraph).spec.orchfiles ?? []).join(','),
  },
];

export const COLUMNS: Readonly<Record<string, readonly Column[]>> = {
  Deployment: deploymentColumns,
  Service: serviceColumns,
  Node: nodeColumns,
  ServiceGraph: serviceGraphColumns,
};

/** The columns of `kind` (NAME and AGE for a kind this orunctl does not know). */
export function columnsFor(kind: string, wide: boolean): readonly Column[] {
  return (COLUMNS[kind] ?? [name, ageColumn]).filter((c) => wide || c.wide !== true);
}

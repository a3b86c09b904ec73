/**
 * The desired container for a Deployment: its name, labels, image plan and spec hash. Pure: the
 * same Deployment always gives the same result, which is what makes adoption after a restart work
 * (an unchanged spec hashes the same, so the running container is kept).
 */
import { createHash, createHmac } from 'node:crypto';
import path from 'node:path';
import { SOURCE_ANNOTATION } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { BindMount, ContainerSpec } from '../../runtime/docker/engine.ts';
import {
  effectiveImagePullPolicy,
  SECRET_FILES_DIR,
  secretFileOwnership,
} from '../../apis/run.orcra.dev/v0alpha/deployment.ts';
import { parseDuration } from '../../apis/run.orcra.dev/v0alpha/duration.ts';
import {
  DEFAULT_STOP_GRACE_PERIOD,
  effectiveStrategy,
  parseCpu,
  parseMemory,
  type StrategyType,
} from '../../apis/run.orcra.dev/v0alpha/workload.ts';
import {
  isEncryptedText,
  isSecretKeyRef,
  isSecretValue,
  type DeploymentView,
  type EnvValue,
  type ImagePullPolicy,
  type SecretValue,
} from './spec.ts';

/** Labels on every container this controller owns. It never touches a container without `managed-by`. */
export const Label = {
  managedBy: 'run.orcra.dev/managed-by',
  deployment: 'run.orcra.dev/deployment',
  specHash: 'run.orcra.dev/spec-hash',
  sourceCommit: 'run.orcra.dev/source-commit',
  node: 'run.orcra.dev/node',
} as const;
export const MANAGED_BY = 'orun';

/**
 * Label selector for every container the controller owns. With a node name, only that node's
 * containers: a second agent on the same engine (another `--node`, a test run) never prunes or
 * adopts the first one's containers.
 */
export function managedSelector(nodeName?: string): Record<string, string> {
  return nodeName === undefined
    ? { [Label.managedBy]: MANAGED_BY }
    : { [Label.managedBy]: MANAGED_BY, [Label.node]: nodeName };
}

/** Label selector for one Deployment's containers (on `nodeName`, when given). */
export function deploymentSelector(name: string, nodeName?: string): Record<string, string> {
  return { ...managedSelector(nodeName), [Label.deployment]: name };
}

/** How the image gets onto the node. */
export type ImagePlan =
  | { kind: 'pull'; ref: string; policy: ImagePullPolicy }
  /** Build-once: build only when `tag` is missing. The tag is derived from the build inputs. */
  | { kind: 'build'; ref: string; contextDir: string; dockerfile?: string; args: Record<string, string> };

export interface DesiredContainer {
  /** {@link containerName}: unique per node, Deployment and spec hash. */
  name: string;
  image: ImagePlan;
  /** 16 hex chars over everything that shapes the container (secret values only as keyed digests). */
  hash: string;
  labels: Record<string, string>;
  /** `port` undefined: internal (exposed on the node network only). */
  ports: { containerPort: number; port?: number; hostIP?: string; protocol: 'tcp' | 'udp' }[];
  /** RollingUpdate (start-first) or Recreate (stop-first); see `effectiveStrategy`. */
  strategy: StrategyType;
  /** How long a new container may take to become ready (spec `progressDeadlineSeconds`); unset: the controller's default. */
  progressDeadlineMs?: number;
  /** Seconds between the stop signal and SIGKILL (spec `stopGracePeriod`, default 10 s). */
  stopGraceSeconds: number;
  /**
   * Secrets this container needs that are not available on this node (`env DB_PASSWORD:
   * secretKeyRef db: ...`, `file tls.key: ...`); never start with these. Messages hold no values.
   */
  undecryptable: string[];
  /** Files to write to the tmpfs secret directory before the container is created. */
  secretFiles: SecretFileContent[];
  /**
   * The engine's create request. This is the one place secret env values are revealed: call it
   * right before `createContainer` and never log or store the result.
   */
  containerSpec(): ContainerSpec;
}

export interface DesiredOptions {
  /** Build contexts resolve under it (Node `codeDir`). Default: the process's working directory. */
  codeDir?: string;
  /** Keys the digests of secret values inside the spec hash. Default a fixed string. */
  secretHashKey?: string;
  /** The decrypted value of an inline `ENC[...]` env value. Default: none can be decrypted. */
  resolveSecret?: SecretResolver;
  /** The root secrets.yaml's values (`secretKeyRef`, `envFrom`, `secretFiles`). Default: none. */
  secretKeys?: SecretKeys;
  /** Host directory (on a tmpfs) holding this container's secret files. Default: no secret files. */
  secretFilesDir?: (deployment: string, hash: string) => string;
  /** Labels the container as this node's (`run.orcra.dev/node`) and names it so. Default: none. */
  nodeName?: string;
  /**
   * The node network the container joins, with the Deployment's name as its DNS alias. Default:
   * none (the engine's default bridge, no alias).
   */
  networkName?: string;
}

/** One secret file as the writer needs it; without `owner`: root's, mode 0400. */
export interface SecretFileContent {
  name: string;
  value: SecretValue;
  owner?: { uid: number; gid: number; mode: number };
}

/** Looks up the plaintext of a SOPS `ENC[...]` value the loader decrypted (undefined: unknown). */
export type SecretResolver = (ciphertext: string) => SecretValue | undefined;

/** The root secrets.yaml's values as the informer offers them (runtime/informer satisfies it). */
export interface SecretKeys {
  /** A top-level key's value; undefined when absent or not decrypted. */
  get(key: string): SecretValue | undefined;
  /** Every top-level scalar key (for envFrom). */
  names(): readonly string[];
  /** Why no value is available (no file, no age key, tampered); undefined when decrypted. */
  unavailable(): string | undefined;
}

/**
 * The node-wide Docker network every Deployment container of node `nodeName` joins, each with its
 * Deployment's name as DNS alias (`postgres:5432` from any other Deployment). One per node name,
 * so two agents on one engine keep their aliases apart.
 */
export function nodeNetworkName(nodeName: string): string {
  return `orun-net-${nodeName}`;
}

/** The commit from the `run.orcra.dev/source: <path>@<commit>` annotation, or `unknown`. */
export function sourceCommit(d: DeploymentView): string {
  const src = d.metadata.annotations?.[SOURCE_ANNOTATION];
  const at = src?.lastIndexOf('@') ?? -1;
  return src !== undefined && at >= 0 ? src.slice(at + 1) : 'unknown';
}

/**
 * `orun-<deployment>_<node>_<hash8>` (`orun-<deployment>_<hash8>` without a node name). `_` appears
 * in neither a DNS-1123 Deployment nor a node name, so two agents with different node names on one
 * engine never collide, and the old and new container of a start-first rollout (different spec
 * hashes) coexist. Adoption goes by labels, never by name.
 */
export function containerName(deployment: string, hash: string, nodeName?: string): string {
  return nodeName === undefined || nodeName === ''
    ? `orun-${deployment}_${hash.slice(0, 8)}`
    : `orun-${deployment}_${nodeName}_${hash.slice(0, 8)}`;
}

export function desiredContainer(d: DeploymentView, opts: DesiredOptions = {}): DesiredContainer {
  const name = d.metadata.name;
  const spec = d.spec;
  const image = imagePlan(d, opts.codeDir ?? process.cwd());
  const ports = (spec.ports ?? []).map((p) => ({
    containerPort: p.containerPort,
    ...(p.port === undefined ? {} : { port: p.port }),
    ...(p.hostIP === undefined ? {} : { hostIP: p.hostIP }),
    protocol: p.protocol ?? 'tcp',
  }));
  const proc = processFields(spec);
  const problems: string[] = [];
  const env = resolveEnv(spec, opts, problems);
  const files = resolveSecretFiles(spec, opts);
  const hash = specHash({ spec, image, ports, env, files, proc }, opts.secretHashKey ?? 'orun-secret-env');
  const undecryptable = [
    ...problems,
    ...env.flatMap(([k, v]) => (v.kind === 'missing' ? [`env ${k}: ${v.why}`] : [])),
    ...files.flatMap((f) => (f.value.kind === 'missing' ? [`file ${f.name}: ${f.value.why}`] : [])),
  ];
  const filesBind =
    files.length === 0 || opts.secretFilesDir === undefined
      ? []
      : [{ hostPath: opts.secretFilesDir(name, hash), containerPath: SECRET_FILES_DIR, readOnly: true }];
  if (files.length > 0 && opts.secretFilesDir === undefined) {
    undecryptable.push('secretFiles: this node has no secret files directory (a tmpfs) configured');
  }
  const parts: ContainerParts = {
    name: containerName(name, hash, opts.nodeName),
    deployment: name,
    image,
    labels: {
      ...managedSelector(opts.nodeName),
      [Label.deployment]: name,
      [Label.specHash]: hash,
      [Label.sourceCommit]: sourceCommit(d),
    },
    env,
    ports,
    filesBind,
    stopGraceSeconds: Math.ceil(
      (parseDuration(spec.stopGracePeriod ?? DEFAULT_STOP_GRACE_PERIOD) ?? 10_000) / 1000,
    ),
    proc,
  };
  return {
    name: parts.name,
    image,
    hash,
    labels: parts.labels,
    ports,
    strategy: effectiveStrategy(spec),
    ...(spec.progressDeadlineSeconds === undefined
      ? {}
      : { progressDeadlineMs: spec.progressDeadlineSeconds * 1000 }),
    stopGraceSeconds: parts.stopGraceSeconds,
    undecryptable,
    secretFiles: files.flatMap((f) =>
      f.value.kind === 'secret'
        ? [{ name: f.name, value: f.value.value, ...(f.owner === undefined ? {} : { owner: f.owner }) }]
        : [],
    ),
    containerSpec: () => engineRequest(spec, opts, parts),
  };
}

type DesiredPort = DesiredContainer['ports'][number];

/** A secret file with its value looked up (or why it is missing). */
interface ResolvedFile {
  name: string;
  value: ResolvedValue;
  owner: SecretFileContent['owner'];
}

function resolveSecretFiles(spec: DeploymentView['spec'], opts: DesiredOptions): ResolvedFile[] {
  return (spec.secretFiles ?? []).map((f) => ({
    name: f.name ?? f.key,
    value: resolveKey(f.key, opts.secretKeys),
    owner:
      f.uid === undefined && f.gid === undefined && f.mode === undefined ? undefined : secretFileOwnership(f),
  }));
}

/**
 * The spec hash: 16 hex chars over everything that shapes the container, secret values only as
 * keyed digests. Every field added since v1 is hashed only when set, so a spec written before it
 * existed keeps its hash and its running container is adopted across upgrades.
 */
function specHash(
  c: {
    spec: DeploymentView['spec'];
    image: ImagePlan;
    ports: DesiredPort[];
    env: [string, ResolvedValue][];
    files: ResolvedFile[];
    proc: ProcessFields;
  },
  key: string,
): string {
  const { image, files } = c;
  const hashed = {
    v: 1,
    image:
      image.kind === 'pull' ? { ref: image.ref } : { build: { ...image, args: sortedRecord(image.args) } },
    ports: c.ports,
    binds: (c.spec.volumes ?? []).map((v) => ({
      hostPath: v.hostPath,
      containerPath: v.containerPath,
      readOnly: v.readOnly ?? false,
      // Only a non-default type is hashed, so specs written before `type` existed keep their hash.
      ...(v.type === undefined || v.type === 'DirectoryOrCreate' ? {} : { type: v.type }),
    })),
    env: c.env.map(([k, v]) => [k, digest(k, v, key)]),
    ...(files.length === 0
      ? {}
      : {
          // The owner and mode are hashed only when set, so specs written before they existed keep their hash.
          files: files.map((f) => [
            f.name,
            digest(`file:${f.name}`, f.value, key),
            ...(f.owner === undefined ? [] : [f.owner]),
          ]),
        }),
    // Absent fields add no key, so specs written before they existed keep their hash (adoption).
    ...c.proc,
  };
  return createHash('sha256').update(JSON.stringify(hashed)).digest('hex').slice(0, 16);
}

/** What the engine's create request is made of, secret env values still sealed. */
interface ContainerParts {
  name: string;
  deployment: string;
  image: ImagePlan;
  labels: Record<string, string>;
  env: [string, ResolvedValue][];
  ports: DesiredPort[];
  /** The secret files directory, mounted read-only; empty without secret files. */
  filesBind: BindMount[];
  stopGraceSeconds: number;
  proc: ProcessFields;
}

/** The engine's create request, secret env values revealed (see DesiredContainer.containerSpec). */
function engineRequest(spec: DeploymentView['spec'], opts: DesiredOptions, c: ContainerParts): ContainerSpec {
  const proc = c.proc;
  return {
    name: c.name,
    image: c.image.ref,
    labels: c.labels,
    env: Object.fromEntries(c.env.map(([k, v]) => [k, v.kind === 'missing' ? '' : revealValue(v)])),
    ports: c.ports.map((p) => ({
      containerPort: p.containerPort,
      ...(p.port === undefined ? {} : { hostPort: p.port }),
      ...(p.hostIP === undefined ? {} : { hostIP: p.hostIP }),
      protocol: p.protocol,
    })),
    binds: [
      ...(spec.volumes ?? []).map((v) => ({
        hostPath: v.hostPath,
        containerPath: v.containerPath,
        readOnly: v.readOnly ?? false,
        createHostPath: (v.type ?? 'DirectoryOrCreate') === 'DirectoryOrCreate',
      })),
      ...c.filesBind,
    ],
    stopTimeoutSeconds: c.stopGraceSeconds,
    ...(opts.networkName === undefined
      ? {}
      : { network: { name: opts.networkName, aliases: [c.deployment] } }),
    ...(proc.command === undefined ? {} : { entrypoint: proc.command }),
    ...(proc.args === undefined ? {} : { cmd: proc.args }),
    ...(proc.workingDir === undefined ? {} : { workingDir: proc.workingDir }),
    ...(proc.user === undefined ? {} : { user: proc.user }),
    ...(proc.memoryBytes === undefined ? {} : { memoryBytes: proc.memoryBytes }),
    ...(proc.nanoCpus === undefined ? {} : { nanoCpus: proc.nanoCpus }),
    ...(proc.stopSignal === undefined ? {} : { stopSignal: proc.stopSignal }),
  };
}

interface ProcessFields {
  command?: string[];
  args?: string[];
  workingDir?: string;
  user?: string;
  memoryBytes?: number;
  nanoCpus?: number;
  stopSignal?: string;
  stopGracePeriod?: string;
}

/** The set process/limit fields, normalized (memory in bytes, CPUs in billionths). */
function processFields(spec: DeploymentView['spec']): ProcessFields {
  const limits = spec.resources?.limits;
  const memory = limits?.memory === undefined ? undefined : parseMemory(limits.memory);
  const cpus = limits?.cpu === undefined ? undefined : parseCpu(limits.cpu);
  const out: ProcessFields = {};
  if (spec.command !== undefined) out.command = [...spec.command];
  if (spec.args !== undefined) out.args = [...spec.args];
  if (spec.workingDir !== undefined) out.workingDir = spec.workingDir;
  if (spec.user !== undefined) out.user = spec.user;
  if (memory !== undefined) out.memoryBytes = memory;
  if (cpus !== undefined) out.nanoCpus = Math.round(cpus * 1e9);
  if (spec.stopSignal !== undefined) out.stopSignal = spec.stopSignal;
  if (spec.stopGracePeriod !== undefined) out.stopGracePeriod = spec.stopGracePeriod;
  return out;
}

type ResolvedValue =
  | { kind: 'plain'; value: string }
  | { kind: 'secret'; value: SecretValue }
  | { kind: 'missing'; why: string };

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** The env, sorted by name: explicit entries win over `envFrom` ones. */
function resolveEnv(
  spec: DeploymentView['spec'],
  opts: DesiredOptions,
  problems: string[],
): [string, ResolvedValue][] {
  const out = new Map<string, ResolvedValue>();
  if ((spec.envFrom ?? []).length > 0) {
    const why = secretsUnavailable(opts.secretKeys);
    if (why !== undefined) problems.push(`envFrom secrets.yaml: ${why}`);
    else {
      for (const k of opts.secretKeys?.names() ?? []) {
        if (ENV_NAME.test(k)) out.set(k, resolveKey(k, opts.secretKeys));
      }
    }
  }
  for (const [k, v] of Object.entries(spec.env ?? {})) out.set(k, resolveOne(v, opts));
  return [...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function resolveOne(v: EnvValue, opts: DesiredOptions): ResolvedValue {
  if (isSecretKeyRef(v)) return resolveKey(v.secretKeyRef, opts.secretKeys);
  // A value that is neither text nor a secret (e.g. a SecretString flattened by structuredClone)
  // has lost its plaintext: treat it like ciphertext nobody can decrypt.
  if (typeof v !== 'string') {
    return isSecretValue(v) ? { kind: 'secret', value: v } : { kind: 'missing', why: 'value lost' };
  }
  if (!isEncryptedText(v)) return { kind: 'plain', value: v };
  const s = opts.resolveSecret?.(v);
  if (s !== undefined) return { kind: 'secret', value: s };
  const why = secretsUnavailable(opts.secretKeys);
  return {
    kind: 'missing',
    why: `SOPS ENC[...] value not decrypted on this node${why === undefined ? '' : ` (${why})`}`,
  };
}

function resolveKey(key: string, keys: SecretKeys | undefined): ResolvedValue {
  const value = keys?.get(key);
  if (value !== undefined) return { kind: 'secret', value };
  const why = secretsUnavailable(keys) ?? `secrets.yaml has no top-level key "${key}"`;
  return { kind: 'missing', why: `secretKeyRef ${key}: ${why}` };
}

function secretsUnavailable(keys: SecretKeys | undefined): string | undefined {
  return keys === undefined ? 'secrets.yaml is not read on this node' : keys.unavailable();
}

function revealValue(v: ResolvedValue): string {
  return v.kind === 'plain' ? v.value : v.kind === 'secret' ? v.value.reveal() : '';
}

function imagePlan(d: DeploymentView, codeDir: string): ImagePlan {
  const { image, build, imagePullPolicy } = d.spec;
  if (build !== undefined) {
    const args = sortedRecord(build.args ?? {});
    const inputs = { context: build.context, dockerfile: build.dockerfile ?? 'Dockerfile', args };
    const buildHash = createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 12);
    return {
      kind: 'build',
      ref: `orun-build/${d.metadata.name}:${buildHash}`,
      contextDir: path.resolve(codeDir, build.context),
      ...(build.dockerfile === undefined ? {} : { dockerfile: build.dockerfile }),
      args,
    };
  }
  // The schema enforces image XOR build; an object with neither never reaches us decoded.
  const ref = image ?? '';
  const policy = effectiveImagePullPolicy({
    image: ref,
    ...(imagePullPolicy === undefined ? {} : { imagePullPolicy }),
  });
  return { kind: 'pull', ref, policy };
}

/**
 * Plain values hash as themselves; secrets as an HMAC of name and value under the node-local key,
 * so a changed value rolls the container while the hash (a label) reveals nothing.
 */
function digest(name: string, v: ResolvedValue, key: string): string {
  if (v.kind === 'plain') return v.value;
  if (v.kind === 'missing') return 'missing';
  return 'secret:' + createHmac('sha256', key).update(`${name}\0${v.value.reveal()}`).digest('hex');
}

function sortedRecord(r: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

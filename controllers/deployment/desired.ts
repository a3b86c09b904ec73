/**
 * The desired container for a Deployment: its name, labels, image plan and spec hash. Pure: the
 * same Deployment always gives the same result, which is what makes adoption after a restart work
 * (an unchanged spec hashes the same, so the running container is kept).
 */
import { createHash, createHmac } from 'node:crypto';
import path from 'node:path';
import { SOURCE_ANNOTATION } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { effectiveImagePullPolicy } from '../../apis/run.orcra.dev/v0alpha/deployment.ts';
import type { ContainerSpec } from '../../runtime/docker/engine.ts';
import {
  isEncryptedText,
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
  /** `orun-<deployment>`. Replacement removes the old container first, so no suffix is needed. */
  name: string;
  image: ImagePlan;
  /** 16 hex chars over everything that shapes the container (secret values only as keyed digests). */
  hash: string;
  labels: Record<string, string>;
  ports: { containerPort: number; port: number; protocol: 'tcp' | 'udp' }[];
  /** Env names whose `ENC[...]` value no key on this node could decrypt; never start with these. */
  undecryptable: string[];
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
  /** Labels the container as this node's (`run.orcra.dev/node`). Default: no node label. */
  nodeName?: string;
}

/** Looks up the plaintext of a SOPS `ENC[...]` value the loader decrypted (undefined: unknown). */
export type SecretResolver = (ciphertext: string) => SecretValue | undefined;

/** The commit from the `run.orcra.dev/source: <path>@<commit>` annotation, or `unknown`. */
export function sourceCommit(d: DeploymentView): string {
  const src = d.metadata.annotations?.[SOURCE_ANNOTATION];
  const at = src?.lastIndexOf('@') ?? -1;
  return src !== undefined && at >= 0 ? src.slice(at + 1) : 'unknown';
}

export function containerName(deployment: string): string {
  return `orun-${deployment}`;
}

export function desiredContainer(d: DeploymentView, opts: DesiredOptions = {}): DesiredContainer {
  const name = d.metadata.name;
  const spec = d.spec;
  const image = imagePlan(d, opts.codeDir ?? process.cwd());
  const ports = (spec.ports ?? []).map((p) => ({
    containerPort: p.containerPort,
    port: p.port,
    protocol: p.protocol ?? 'tcp',
  }));
  const binds = (spec.volumes ?? []).map((v) => ({
    hostPath: v.hostPath,
    containerPath: v.containerPath,
    readOnly: v.readOnly ?? false,
  }));
  const env = Object.entries(spec.env ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const key = opts.secretHashKey ?? 'orun-secret-env';
  // A value that is neither text nor a secret (e.g. a SecretString flattened by structuredClone)
  // has lost its plaintext: treat it like ciphertext nobody can decrypt.
  const undecryptable = env.filter(([, v]) =>
    typeof v === 'string' ? isEncryptedText(v) && opts.resolveSecret?.(v) === undefined : !isSecretValue(v),
  );
  const hashed = {
    v: 1,
    image:
      image.kind === 'pull' ? { ref: image.ref } : { build: { ...image, args: sortedRecord(image.args) } },
    ports,
    binds,
    env: env.map(([k, v]) => [k, envDigest(k, v, key)]),
  };
  const hash = createHash('sha256').update(JSON.stringify(hashed)).digest('hex').slice(0, 16);
  const labels = {
    ...managedSelector(opts.nodeName),
    [Label.deployment]: name,
    [Label.specHash]: hash,
    [Label.sourceCommit]: sourceCommit(d),
  };
  return {
    name: containerName(name),
    image,
    hash,
    labels,
    ports,
    undecryptable: undecryptable.map(([k]) => k),
    containerSpec: () => ({
      name: containerName(name),
      image: image.ref,
      labels,
      env: Object.fromEntries(env.map(([k, v]) => [k, reveal(v, opts.resolveSecret)])),
      ports: ports.map((p) => ({ containerPort: p.containerPort, hostPort: p.port, protocol: p.protocol })),
      binds,
    }),
  };
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
 * Plain values (and `ENC[...]` ciphertext, public in Git and stable while the secret is unchanged)
 * hash as themselves; decrypted secrets as a keyed digest, so the hash reveals nothing.
 */
function envDigest(name: string, v: EnvValue, key: string): string {
  if (typeof v === 'string') return v;
  if (!isSecretValue(v)) return 'unreadable';
  return 'secret:' + createHmac('sha256', key).update(`${name}\0${v.reveal()}`).digest('hex');
}

function reveal(v: EnvValue, resolve: SecretResolver | undefined): string {
  if (typeof v !== 'string') return isSecretValue(v) ? v.reveal() : '';
  if (isEncryptedText(v)) return resolve?.(v)?.reveal() ?? '';
  return v;
}

function sortedRecord(r: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

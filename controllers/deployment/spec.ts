/**
 * The parts of a Deployment this controller reads, as a read-only structural view of the apis
 * type (checked at the bottom of this file). Two widenings: env values may be SecretStrings (the
 * loader decrypts SOPS values into them), and objects arrive deep-frozen from the store.
 */
import type { Condition } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type {
  Deployment,
  DeploymentStatus,
  ImagePullPolicy,
} from '../../apis/run.orcra.dev/v0alpha/deployment.ts';
import type { HostPathType, StrategyType } from '../../apis/run.orcra.dev/v0alpha/workload.ts';
import type { DeepReadonly } from '../../runtime/store/freeze.ts';

export type { ImagePullPolicy };

/** A decrypted secret: opaque until `reveal()` (runtime/sops SecretString satisfies it). */
export interface SecretValue {
  reveal(): string;
}

/** A reference to a key of the repository's root `secrets.yaml`. */
export interface SecretKeyRefView {
  readonly secretKeyRef: string;
}

/**
 * Plain text (maybe an inline `ENC[...]`), a reference to a secrets.yaml key, or a SOPS-decrypted
 * secret; secrets are revealed only into the container's env.
 */
export type EnvValue = string | SecretValue | SecretKeyRefView;

/**
 * `health.readiness` / `health.liveness`: one of http, tcp or exec; tuning defaults (0 s, 10 s,
 * 1 s, 1, 3) come from the schema.
 */
export interface ProbeSpec {
  readonly http?: string | undefined;
  readonly tcp?: string | undefined;
  readonly exec?: { readonly command: readonly string[] } | undefined;
  readonly initialDelaySeconds?: number | undefined;
  readonly periodSeconds?: number | undefined;
  readonly timeoutSeconds?: number | undefined;
  readonly successThreshold?: number | undefined;
  readonly failureThreshold?: number | undefined;
}
/** @deprecated the probe is no longer HTTP only: use {@link ProbeSpec}. */
export type HttpProbeSpec = ProbeSpec;

export interface DeploymentSpecView {
  readonly image?: string;
  readonly build?: {
    readonly context: string;
    readonly dockerfile?: string;
    readonly args?: Readonly<Record<string, string>>;
    readonly buildMode?: string;
  };
  readonly imagePullPolicy?: ImagePullPolicy;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly workingDir?: string;
  readonly user?: string;
  readonly ports?: readonly {
    readonly containerPort: number;
    /** Host port; none: internal (never published). */
    readonly port?: number;
    readonly hostIP?: string;
    readonly protocol?: 'tcp' | 'udp';
  }[];
  readonly volumes?: readonly {
    readonly hostPath: string;
    readonly containerPath: string;
    readonly readOnly?: boolean;
    /** Default DirectoryOrCreate. */
    readonly type?: HostPathType;
  }[];
  readonly env?: Readonly<Record<string, EnvValue>>;
  /** `[{secretRef: 'secrets.yaml'}]`: every top-level key of secrets.yaml as env. */
  readonly envFrom?: readonly { readonly secretRef: string }[];
  /** secrets.yaml keys mounted as files under /run/secrets. */
  readonly secretFiles?: readonly {
    readonly key: string;
    readonly name?: string;
    /** Owner and permissions (numeric ids, octal mode text); apis `secretFileOwnership` fills defaults. */
    readonly uid?: number | string;
    readonly gid?: number | string;
    readonly mode?: string;
  }[];
  readonly health?: { readonly readiness?: ProbeSpec; readonly liveness?: ProbeSpec };
  readonly resources?: {
    readonly limits?: { readonly memory?: string | number; readonly cpu?: string | number };
  };
  readonly stopSignal?: string;
  readonly stopGracePeriod?: string;
  readonly strategy?: { readonly type?: StrategyType };
  readonly progressDeadlineSeconds?: number;
}

/** What the controller writes: the apis DeploymentStatus plus the spec hash it converged to. */
export type DeploymentStatusView = DeploymentStatus & { specHash?: string };

export interface DeploymentView {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly generation?: number;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec: DeploymentSpecView;
  readonly status?: DeepReadonly<DeploymentStatusView>;
}

export type PreviousConditions = readonly Readonly<Condition>[] | undefined;

export function isSecretValue(v: EnvValue): v is SecretValue {
  return typeof v === 'object' && v !== null && 'reveal' in v && typeof v.reveal === 'function';
}

export function isSecretKeyRef(v: EnvValue): v is SecretKeyRefView {
  return typeof v === 'object' && v !== null && 'secretKeyRef' in v && typeof v.secretKeyRef === 'string';
}

/** An env value still SOPS-encrypted (the loader did not decrypt it): never hand it to a container. */
export function isEncryptedText(v: EnvValue): boolean {
  return typeof v === 'string' && v.startsWith('ENC[') && v.endsWith(']');
}

// Compile-time check: a stored (deep-frozen) Deployment is a DeploymentView.
export const viewOf = (d: DeepReadonly<Deployment>): DeploymentView => d;

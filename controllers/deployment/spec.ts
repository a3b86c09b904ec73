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
  Probe,
} from '../../apis/run.orcra.dev/v0alpha/deployment.ts';
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

/** `health.readiness` / `health.liveness`; tuning defaults (10 s, 1 s, 3) come from the schema. */
export type HttpProbeSpec = Readonly<Pick<Probe, 'http'> & Partial<Omit<Probe, 'http'>>>;

export interface DeploymentSpecView {
  readonly image?: string;
  readonly build?: {
    readonly context: string;
    readonly dockerfile?: string;
    readonly args?: Readonly<Record<string, string>>;
    readonly buildMode?: string;
  };
  readonly imagePullPolicy?: ImagePullPolicy;
  readonly ports?: readonly {
    readonly containerPort: number;
    readonly port: number;
    readonly protocol?: 'tcp' | 'udp';
  }[];
  readonly volumes?: readonly {
    readonly hostPath: string;
    readonly containerPath: string;
    readonly readOnly?: boolean;
  }[];
  readonly env?: Readonly<Record<string, EnvValue>>;
  /** `[{secretRef: 'secrets.yaml'}]`: every top-level key of secrets.yaml as env. */
  readonly envFrom?: readonly { readonly secretRef: string }[];
  /** secrets.yaml keys mounted as files under /run/secrets. */
  readonly secretFiles?: readonly { readonly key: string; readonly name?: string }[];
  readonly health?: { readonly readiness?: HttpProbeSpec; readonly liveness?: HttpProbeSpec };
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

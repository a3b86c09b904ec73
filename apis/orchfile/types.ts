/**
 * The resolved service graph: what an Orchfile (plus its overlays and ARG overrides) means once
 * every file is merged, every `${name}` expanded and every constraint checked. Values keep the
 * text the user wrote (`30s`, `4G`, `50%`); `values.ts` turns them into numbers where needed.
 */

/** The Orchfile specification version this parser implements (the JSON form's `version`). */
export const ORCHFILE_SPEC_VERSION = '1.0.0-rc';

/** Where something was written: the file as given, 1-based line and column. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export type ServiceMode = 'container' | 'host';
export type RestartPolicy = 'no' | 'always' | 'on-failure';
export type RecreatePolicy = 'always' | 'never';

/** `PUBLISH [address:]host:container`. */
export interface PortMapping {
  /** Bind address (IPv4, IPv6 or hostname); absent means all interfaces. */
  readonly address?: string;
  readonly host: number;
  readonly container: number;
}

/** `VOLUME source:destination`. */
export interface VolumeMount {
  readonly source: string;
  readonly destination: string;
  /** True when `source` starts with none of `/`, `./`, `../`, `${` (a named volume). */
  readonly isNamed: boolean;
}

export interface OrchService {
  readonly name: string;
  readonly mode: ServiceMode;
  /** FROM (container mode only). */
  readonly image?: string;
  /** RUN (host mode only). */
  readonly runCommand?: string;
  readonly entrypoint?: string;
  readonly cmd?: string;
  readonly publish: readonly PortMapping[];
  readonly volumes: readonly VolumeMount[];
  readonly user?: string;
  readonly stopCommand?: string;
  readonly reloadCommand?: string;
  readonly workdir?: string;
  /** ENV in file order (overlays replace a key in place; new keys are appended). */
  readonly env: Readonly<Record<string, string>>;
  readonly envFiles: readonly string[];
  readonly requires: readonly string[];
  readonly after: readonly string[];
  /** A command, or an http(s) URL (see `healthcheckKind`). */
  readonly healthcheck?: string;
  readonly readinessTimeout?: string;
  /** Default false. */
  readonly oneshot: boolean;
  /** Default false. */
  readonly disabled: boolean;
  /** Default `never`. */
  readonly recreate: RecreatePolicy;
  readonly restart: {
    /** Default `no`. */
    readonly policy: RestartPolicy;
    readonly delay?: string;
    readonly startLimitBurst?: number;
    readonly startLimitInterval?: string;
  };
  readonly timeouts: { readonly start?: string; readonly stop?: string };
  readonly resources: {
    readonly memory?: string;
    readonly cpus?: number;
    readonly cpuQuota?: string;
    readonly limitNofile?: number;
    readonly limitNproc?: number;
    readonly tasksMax?: number;
    readonly ioWeight?: number;
  };
  readonly logging: { readonly stdout?: string; readonly stderr?: string };
  /** The first `SERVICE` line that declared this service. */
  readonly source: SourcePos;
}

export interface OrchGraph {
  /** Always ORCHFILE_SPEC_VERSION (a file's ORCH_VERSION must equal it). */
  readonly version: string;
  /** Resolved ARG values in declaration order (after `--arg` and `ORCH_ARG_*` overrides). */
  readonly args: Readonly<Record<string, string>>;
  /** Services in file order; services first seen in an overlay come after the base's. */
  readonly services: readonly OrchService[];
}

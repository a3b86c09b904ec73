/**
 * The wire format of the local API (HTTP/1.1 + JSON over a unix socket). These are plain types
 * shared by the server, the client and orunctl's printers.
 */
import type { ApiObject, ObjectStatus } from '../../apis/run.orcra.dev/v0alpha/meta.ts';

/**
 * An object as it travels over the wire: spec and status are open records (the per-kind facts
 * are defined in apis/run.orcra.dev/v0alpha), read loosely by printers.
 */
export type WireObject = ApiObject<string, Record<string, unknown>, ObjectStatus & Record<string, unknown>>;

export const API_PREFIX = '/apis/run.orcra.dev/v0alpha';
export const EVENTS_PATH = '/api/v1/events';
export const SOURCE_RECONCILE_PATH = '/apis/source/reconcile';

/**
 * A secret value as it appears in every API response: the server replaces each secret (an inline
 * SOPS `ENC[...]` string, or a value the backend flags) with this object, so plaintext and
 * ciphertext never leave the agent. Printers show it as {@link SECRET_DISPLAY}.
 */
export interface SecretValue {
  readonly secret: true;
}

/** How orunctl prints a {@link SecretValue}. */
export const SECRET_DISPLAY = '<set to the secret value>';

export function isSecretValue(v: unknown): v is SecretValue {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as { secret?: unknown }).secret === true &&
    Object.keys(v).length === 1
  );
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One line of a `?watch=true` NDJSON stream. DELETED carries the last known object. */
export interface WatchEvent<T = ApiObject> {
  type: WatchEventType;
  object: T;
}

/** An event about an object, deduplicated by object + reason + message. */
export interface EventRecord {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** How many times it happened between firstTimestamp and lastTimestamp. */
  count: number;
  /** RFC 3339. */
  firstTimestamp: string;
  /** RFC 3339. */
  lastTimestamp: string;
  /** The component that reported it, e.g. the controller name `deployment`. */
  source: string;
  involvedObject: { kind: string; name: string };
}

/** `GET .../<plural>`: a Kubernetes-style list. */
export interface ObjectList<T = ApiObject> {
  apiVersion: string;
  /** e.g. `DeploymentList`, `EventList`. */
  kind: string;
  items: T[];
}

/** `GET /version`. */
export interface VersionInfo {
  /** orun's version, e.g. `0.1.0`. */
  version: string;
  /** The API group version served, `run.orcra.dev/v0alpha`. */
  apiVersion: string;
  /** The name of the Node this agent runs as, when known. */
  node?: string;
  /** The Git commit the agent last applied, when known. */
  revision?: string;
}

/** metav1.Status: the body of every error response and of action responses. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message: string;
  /** CamelCase, e.g. `NotFound`, `BadRequest`, `InternalError`. */
  reason?: string;
  details?: { name?: string; kind?: string };
  code: number;
}

export function status(code: number, message: string, reason?: string, details?: Status['details']): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: code < 400 ? 'Success' : 'Failure',
    message,
    ...(reason === undefined ? {} : { reason }),
    ...(details === undefined ? {} : { details }),
    code,
  };
}

/** Options of `GET .../deployments/NAME/log` and `.../servicegraphs/NAME/log`. */
export interface LogOptions {
  /** Keep streaming new lines. Default false. */
  follow?: boolean;
  /** Start with the last N lines. Default: all lines. */
  tailLines?: number;
  /**
   * A ServiceGraph's service (kubectl's `container`). Default: every service, each line
   * prefixed with `[service] ` when there are several.
   */
  container?: string;
}

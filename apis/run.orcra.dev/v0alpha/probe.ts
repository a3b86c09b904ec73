/**
 * Probes: readiness and liveness of a Deployment's container, of kind `http`, `tcp` or `exec`,
 * with Kubernetes' tuning names and defaults. The probe target grammar lives here and only here:
 * the decoder validates with {@link parseHttpProbe} / {@link parseTcpProbe} and the agent's prober
 * probes what they return, so a probe `orun validate` accepts is one the agent can probe.
 *
 * Targets are written from the container's own view (`localhost:80/health`); the agent sends a
 * loopback host to the container's IP, any other host as written.
 */
import { z } from 'zod';
import { expected } from './fields.ts';
import { isPort } from '../../ports.ts';

/** A parsed `http` probe target. */
export interface HttpProbeTarget {
  scheme: 'http' | 'https';
  /** `localhost` when the target names none. IPv6 without brackets. */
  host: string;
  port: number;
  /** Always starts with `/`. */
  path: string;
}

/** A parsed `tcp` probe target. */
export interface TcpProbeTarget {
  host: string;
  port: number;
}

const HOST = String.raw`[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]`;
const HTTP_TARGET = new RegExp(String.raw`^(?:(https?)://)?(?:(${HOST}):)?([0-9]{1,5})(/\S*)?$`);
const TCP_TARGET = new RegExp(String.raw`^(?:(${HOST}):)?([0-9]{1,5})$`);

function portOf(text: string | undefined): number | undefined {
  const port = Number(text);
  return isPort(port) ? port : undefined;
}

function hostOf(text: string | undefined): string {
  return text === undefined ? 'localhost' : text.replace(/^\[|\]$/g, '');
}

/**
 * `[http://|https://][host:]port[/path]` → its parts; undefined when malformed. An https probe
 * does not verify the certificate (as the kubelet does): it checks the app answers, not its PKI.
 *
 * @example parseHttpProbe('localhost:80/health') // { scheme: 'http', host: 'localhost', port: 80, path: '/health' }
 * @example parseHttpProbe('https://localhost:8443/health') // { scheme: 'https', ..., port: 8443 }
 */
export function parseHttpProbe(text: string): HttpProbeTarget | undefined {
  const m = HTTP_TARGET.exec(text.trim());
  const port = portOf(m?.[3]);
  if (m === null || port === undefined) return undefined;
  return { scheme: m[1] === 'https' ? 'https' : 'http', host: hostOf(m[2]), port, path: m[4] ?? '/' };
}

/**
 * `[host:]port` → its parts; undefined when malformed.
 *
 * @example parseTcpProbe('localhost:5432') // { host: 'localhost', port: 5432 }
 * @example parseTcpProbe('6379') // { host: 'localhost', port: 6379 }
 */
export function parseTcpProbe(text: string): TcpProbeTarget | undefined {
  const m = TCP_TARGET.exec(text.trim());
  const port = portOf(m?.[2]);
  if (m === null || port === undefined) return undefined;
  return { host: hostOf(m[1]), port };
}

/** Probe tuning follows Kubernetes' names and defaults. */
export const PROBE_DEFAULTS = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
} as const;

const Count = (what: string, min: number) =>
  z.int({ error: expected(what) }).min(min, { error: expected(what) });

const HTTP_HINT = '"[https://]host:port/path" like "localhost:80/health"';
const TCP_HINT = '"host:port" like "localhost:5432"';

export const ExecActionSchema = z.strictObject(
  {
    command: z
      .array(z.string({ error: expected('string') }), { error: expected('a list of strings') })
      .min(1, { error: expected('a non-empty list of strings') })
      .describe('Run in the container (no shell); exit code 0 passes.'),
  },
  { error: expected('a mapping with command') },
);

const PROBE_KINDS = ['http', 'tcp', 'exec'] as const;

export const ProbeSchema = z
  .strictObject(
    {
      http: z
        .string({ error: expected(HTTP_HINT) })
        .refine((s) => parseHttpProbe(s) !== undefined, { error: expected(HTTP_HINT) })
        .optional()
        .describe(
          'GET this URL as the container sees itself, e.g. localhost:80/health or https://localhost:8443/health (certificate not verified). Any 2xx or 3xx passes.',
        ),
      tcp: z
        .string({ error: expected(TCP_HINT) })
        .refine((s) => parseTcpProbe(s) !== undefined, { error: expected(TCP_HINT) })
        .optional()
        .describe('Open a TCP connection, e.g. localhost:5432; connecting passes.'),
      exec: ExecActionSchema.optional().describe(
        'Run a command in the container, e.g. {command: [pg_isready, -h, localhost]}; exit 0 passes.',
      ),
      initialDelaySeconds: Count('a whole number of seconds >= 0', 0)
        .default(PROBE_DEFAULTS.initialDelaySeconds)
        .describe('Seconds after the container starts before the first probe. Default: 0.'),
      periodSeconds: Count('a whole number of seconds >= 1', 1)
        .default(PROBE_DEFAULTS.periodSeconds)
        .describe('Seconds between probes. Default: 10.'),
      timeoutSeconds: Count('a whole number of seconds >= 1', 1)
        .default(PROBE_DEFAULTS.timeoutSeconds)
        .describe('Seconds before one probe times out. Default: 1.'),
      successThreshold: Count('an integer >= 1', 1)
        .default(PROBE_DEFAULTS.successThreshold)
        .describe('Consecutive successes before a readiness probe passes. Default: 1.'),
      failureThreshold: Count('an integer >= 1', 1)
        .default(PROBE_DEFAULTS.failureThreshold)
        .describe('Consecutive failures before the probe counts as failed. Default: 3.'),
    },
    { error: expected('a mapping with one of http, tcp or exec') },
  )
  .refine((p) => PROBE_KINDS.filter((k) => p[k] !== undefined).length === 1, {
    message: 'exactly one of http, tcp or exec is required',
    when: (p) => typeof p.value === 'object' && p.value !== null,
  });
export type Probe = z.output<typeof ProbeSchema>;

/** What a probe does, resolved from its one kind field. */
export type ProbeAction =
  | { kind: 'http'; target: HttpProbeTarget }
  | { kind: 'tcp'; target: TcpProbeTarget }
  | { kind: 'exec'; command: readonly string[] };

/**
 * The action of a decoded probe; undefined only for an object the schema would reject.
 *
 * @example probeAction({ tcp: '5432' }) // { kind: 'tcp', target: { host: 'localhost', port: 5432 } }
 */
export function probeAction(p: {
  readonly http?: string | undefined;
  readonly tcp?: string | undefined;
  readonly exec?: { readonly command: readonly string[] } | undefined;
}): ProbeAction | undefined {
  if (p.http !== undefined) {
    const target = parseHttpProbe(p.http);
    return target === undefined ? undefined : { kind: 'http', target };
  }
  if (p.tcp !== undefined) {
    const target = parseTcpProbe(p.tcp);
    return target === undefined ? undefined : { kind: 'tcp', target };
  }
  return p.exec === undefined ? undefined : { kind: 'exec', command: p.exec.command };
}

/** `http localhost:80/health`, `tcp 5432`, `exec pg_isready -h localhost`: for messages. */
export function describeProbe(p: Parameters<typeof probeAction>[0]): string {
  if (p.http !== undefined) return `http ${p.http}`;
  if (p.tcp !== undefined) return `tcp ${p.tcp}`;
  return `exec ${p.exec?.command.join(' ') ?? ''}`;
}

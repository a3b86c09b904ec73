/**
 * The Deployment fields that make it fit for real applications and for deploys without downtime,
 * named the way Kubernetes (and, where Kubernetes has no such field, Compose) names them:
 * `resources.limits`, `strategy`, `stopSignal`, `stopGracePeriod`, a hostPath's `type`.
 */
import { z } from 'zod';
import { expected } from './fields.ts';

const MEMORY = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)?$/;
const MEMORY_UNIT: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/**
 * Bytes in a Kubernetes memory quantity (`256Mi`, `1Gi`, `500M`, `1048576`); undefined when it is
 * not one.
 *
 * @example parseMemory('256Mi') // 268435456
 */
export function parseMemory(text: string | number): number | undefined {
  const m = MEMORY.exec(String(text).trim());
  if (m === null) return undefined;
  const bytes = Math.round(Number(m[1]) * (MEMORY_UNIT[m[2] ?? ''] ?? 1));
  return Number.isFinite(bytes) && bytes > 0 ? bytes : undefined;
}

/**
 * CPUs in a Kubernetes CPU quantity (`0.5`, `2`, `"500m"`); undefined when it is not one.
 *
 * @example parseCpu('500m') // 0.5
 */
export function parseCpu(text: string | number): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m)?$/.exec(String(text).trim());
  if (m === null) return undefined;
  const cpus = Number(m[1]) / (m[2] === 'm' ? 1000 : 1);
  return cpus > 0 ? cpus : undefined;
}

const MEMORY_HINT = 'a memory size like "256Mi", "1Gi" or "500M"';
const CPU_HINT = 'a CPU amount like 0.5, 2 or "500m"';

export const ResourcesSchema = z.strictObject(
  {
    limits: z
      .strictObject(
        {
          memory: z
            .union([z.string(), z.number()], { error: expected(MEMORY_HINT) })
            .refine((v) => parseMemory(v) !== undefined, { error: expected(MEMORY_HINT) })
            .optional()
            .describe('Memory limit (docker --memory); the container is OOM-killed above it. Default: none.'),
          cpu: z
            .union([z.string(), z.number()], { error: expected(CPU_HINT) })
            .refine((v) => parseCpu(v) !== undefined, { error: expected(CPU_HINT) })
            .optional()
            .describe('CPU limit in CPUs (docker --cpus). Default: none.'),
        },
        { error: expected('a mapping with memory and/or cpu') },
      )
      .optional(),
  },
  { error: expected('a mapping with limits') },
);
export type Resources = z.output<typeof ResourcesSchema>;

export const STRATEGY_TYPES = ['RollingUpdate', 'Recreate'] as const;
export type StrategyType = (typeof STRATEGY_TYPES)[number];

export const StrategySchema = z.strictObject(
  {
    type: z
      .enum(STRATEGY_TYPES, { error: expected('one of "RollingUpdate", "Recreate"') })
      .optional()
      .describe(
        'RollingUpdate: start the new container beside the old one, switch traffic once it is ready, then stop the old one (start-first). Recreate: stop the old one first (stop-first). Default: RollingUpdate, or Recreate when a port is published on a fixed host port.',
      ),
  },
  { error: expected('a mapping with type') },
);
export type Strategy = z.output<typeof StrategySchema>;

/** Kubernetes' `progressDeadlineSeconds` is 600; one container on one node needs less (see README). */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 300;

/** Docker's default grace between the stop signal and SIGKILL. */
export const DEFAULT_STOP_GRACE_PERIOD = '10s';

export const StopSignal = z
  .string({ error: expected('a signal name like "SIGTERM" or "SIGQUIT"') })
  .regex(/^SIG[A-Z0-9+-]+$|^[0-9]{1,2}$/, { error: expected('a signal name like "SIGTERM" or "SIGQUIT"') });

export const HOST_PATH_TYPES = ['DirectoryOrCreate', 'Directory', 'File', 'Socket'] as const;
export type HostPathType = (typeof HOST_PATH_TYPES)[number];

/**
 * The strategy in force: the spec's, else Recreate when a port is published on a fixed host port
 * (two containers cannot hold it at once), else RollingUpdate.
 *
 * @example effectiveStrategy({ ports: [{ containerPort: 80 }] }) // 'RollingUpdate'
 */
export function effectiveStrategy(spec: {
  readonly strategy?: { readonly type?: StrategyType | undefined } | undefined;
  readonly ports?: readonly { readonly port?: number | undefined }[] | undefined;
}): StrategyType {
  if (spec.strategy?.type !== undefined) return spec.strategy.type;
  return (spec.ports ?? []).some((p) => p.port !== undefined) ? 'Recreate' : 'RollingUpdate';
}

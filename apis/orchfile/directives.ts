/**
 * The directive table: every directive the spec defines, whether it is a scalar (last wins) or a
 * list (merged, clearable), and which execution mode it belongs to (C2/C3).
 */

export const SCALAR_DIRECTIVES = [
  'FROM',
  'RUN',
  'ENTRYPOINT',
  'CMD',
  'USER',
  'STOP',
  'RELOAD',
  'WORKDIR',
  'HEALTHCHECK',
  'READINESS_TIMEOUT',
  'ONESHOT',
  'DISABLED',
  'RECREATE',
  'RESTART',
  'RESTART_DELAY',
  'START_LIMIT_BURST',
  'START_LIMIT_INTERVAL',
  'TIMEOUT_START',
  'TIMEOUT_STOP',
  'MEMORY',
  'CPUS',
  'CPU_QUOTA',
  'LIMIT_NOFILE',
  'LIMIT_NPROC',
  'TASKS_MAX',
  'IO_WEIGHT',
  'STDOUT',
  'STDERR',
] as const;
export type ScalarDirective = (typeof SCALAR_DIRECTIVES)[number];

/** List directives: the only valid CLEAR targets. */
export const LIST_DIRECTIVES = ['ENV', 'ENV_FILE', 'PUBLISH', 'VOLUME', 'REQUIRES', 'AFTER'] as const;
export type ListDirective = (typeof LIST_DIRECTIVES)[number];

export const GLOBAL_DIRECTIVES = ['ARG', 'ORCH_VERSION', 'SERVICE', 'CLEAR'] as const;

export const ALL_DIRECTIVES: readonly string[] = [
  ...GLOBAL_DIRECTIVES,
  ...SCALAR_DIRECTIVES,
  ...LIST_DIRECTIVES,
];

/** C2: valid only with FROM. */
export const CONTAINER_ONLY = ['ENTRYPOINT', 'CMD', 'PUBLISH', 'VOLUME'] as const;
/** C3: valid only with RUN. */
export const HOST_ONLY = ['USER', 'STOP', 'RELOAD'] as const;

const scalarSet: ReadonlySet<string> = new Set(SCALAR_DIRECTIVES);
const listSet: ReadonlySet<string> = new Set(LIST_DIRECTIVES);

export function isScalarDirective(d: string): d is ScalarDirective {
  return scalarSet.has(d);
}

export function isListDirective(d: string): d is ListDirective {
  return listSet.has(d);
}

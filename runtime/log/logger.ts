import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/**
 * Field paths pino censors in every line, so a secret passed as a field never reaches the
 * journal. Values of secrets inside free text go through a Redactor instead.
 */
export const DEFAULT_REDACT_PATHS: readonly string[] = [
  'password',
  'secret',
  'token',
  'privateKey',
  'authorization',
  '*.password',
  '*.secret',
  '*.token',
  '*.privateKey',
  '*.authorization',
  'env.*',
  '*.env.*',
];

export interface LoggerOptions {
  /** Default: `'info'`. */
  level?: LevelWithSilent;
  /** Default: stdout (JSON lines, for journald). */
  destination?: DestinationStream;
  /** Extra field paths to censor, added to DEFAULT_REDACT_PATHS. */
  redact?: string[];
  /** Fields on every line. Default: none (no pid/hostname either: journald records those). */
  base?: Record<string, unknown>;
}

/** A pino JSON logger. Log a fixed message plus fields; derive child loggers per component. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: opts.base ?? null,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...DEFAULT_REDACT_PATHS, ...(opts.redact ?? [])], censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** A logger that writes nothing: the default for components given no logger. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The fields every line of one reconcile carries. */
export function reconcileLogger(
  log: Logger,
  fields: { controller: string; kind: string; name: string; reconcileID: string },
): Logger {
  return log.child(fields);
}

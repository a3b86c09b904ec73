import { fstatSync } from 'node:fs';
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
  /**
   * Start each line with its syslog priority (`<3>{"level":"error",...}`), which journald strips
   * and records as PRIORITY (SyslogLevelPrefix=, on by default), so `journalctl -p err` filters
   * while MESSAGE stays the JSON line. Default: when stdout is the journal (journalStream()).
   */
  syslogPrefix?: boolean;
  /**
   * Applied to every serialized line before it is written: masks known secret values that
   * reached free text (a Redactor's `redact`, late-bound by the agent). Default: none.
   */
  redactText?: (line: string) => string;
}

/** sd-daemon priorities (`<N>`) of pino's levels. */
export const SYSLOG_PRIORITY: Readonly<Record<string, number>> = {
  fatal: 2,
  error: 3,
  warn: 4,
  info: 6,
  debug: 7,
  trace: 7,
};

/** `<N>` + line, N from the line's leading `"level"` (which the level formatter writes first). */
export function withSyslogPrefix(line: string): string {
  const m = /^\{"level":"([a-z]+)"/.exec(line);
  const priority = m ? SYSLOG_PRIORITY[m[1] ?? ''] : undefined;
  return priority === undefined ? line : `<${priority}>${line}`;
}

/**
 * True when stdout is connected to journald: systemd sets JOURNAL_STREAM=<dev>:<inode> of the
 * stream it gave the service, and a later redirect (`orun start > file`) changes stdout's inode.
 */
export function journalStream(env: NodeJS.ProcessEnv = process.env, fd = 1): boolean {
  const [dev, ino] = (env.JOURNAL_STREAM ?? '').split(':');
  if (!dev || !ino) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(dev) && st.ino === BigInt(ino);
  } catch {
    return false;
  }
}

/** A pino JSON logger. Log a fixed message plus fields; derive child loggers per component. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const prefix = opts.syslogPrefix ?? (opts.destination === undefined && journalStream());
  return pino(
    {
      level: opts.level ?? 'info',
      ...(prefix || opts.redactText !== undefined
        ? { hooks: { streamWrite: lineWriter(prefix, opts.redactText) } }
        : {}),
      base: opts.base ?? null,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...DEFAULT_REDACT_PATHS, ...(opts.redact ?? [])], censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

function lineWriter(prefix: boolean, redactText: ((line: string) => string) | undefined) {
  return (line: string): string => {
    const masked = redactText === undefined ? line : redactText(line);
    return prefix ? withSyslogPrefix(masked) : masked;
  };
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

export {
  createLogger,
  journalStream,
  SYSLOG_PRIORITY,
  withSyslogPrefix,
  DEFAULT_REDACT_PATHS,
  reconcileLogger,
  silentLogger,
  type Logger,
  type LoggerOptions,
} from './logger.ts';
export { Redactor } from './redact.ts';

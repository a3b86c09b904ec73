/**
 * Value formats from the Orchfile grammar, and helpers that turn the kept text into numbers.
 * Check functions return an error message, or undefined when the value is fine.
 */
import { portFromText } from '../ports.ts';

const SERVICE_NAME_MAX = 63;

/** Service names: lowercase letters, digits and `-`, starting with a letter, at most 63 characters. */
export function checkServiceName(name: string): string | undefined {
  if (name === '') return 'service name cannot be empty';
  if (name.length > SERVICE_NAME_MAX) {
    return `service name '${name}' exceeds ${SERVICE_NAME_MAX} character limit (${name.length})`;
  }
  if (!/^[a-z]/.test(name)) return `service name '${name}' must start with a lowercase letter`;
  const bad = /[^a-z0-9-]/.exec(name);
  if (bad !== null) {
    return `service name '${name}' contains invalid character '${bad[0]}' (only lowercase alphanumeric and hyphens allowed)`;
  }
  return undefined;
}

/** ARG names: letters, digits and `_`, starting with a letter or `_`. */
export function checkArgName(name: string): string | undefined {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
    ? undefined
    : `invalid ARG name '${name}' (letters, digits and '_', not starting with a digit)`;
}

/** ENV keys: letters, digits and `_`, starting with a letter or `_`. */
export function checkEnvKey(key: string): string | undefined {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)
    ? undefined
    : `invalid ENV key '${key}' (letters, digits and '_', not starting with a digit)`;
}

const DURATION = /^(\d+)([sm])$/;
const MEMORY = /^(\d+)([KMG])$/;
const PERCENT = /^\d+%$/;
const NUMBER = /^\d+(\.\d+)?$/;
const INTEGER = /^\d+$/;

export function checkDuration(directive: string, v: string): string | undefined {
  return DURATION.test(v) ? undefined : `${directive} must be a duration like 30s or 5m, got '${v}'`;
}

export function checkMemory(v: string): string | undefined {
  return MEMORY.test(v)
    ? undefined
    : `MEMORY must be an integer with a K, M or G suffix (like 512M), got '${v}'`;
}

export function checkPercentage(directive: string, v: string): string | undefined {
  if (!PERCENT.test(v)) return `${directive} must be a percentage like 50%, got '${v}'`;
  return parseInt(v, 10) > 0 ? undefined : `${directive} must be greater than 0%, got '${v}'`;
}

/** A grammar `number`, greater than zero. */
export function parseCpus(v: string): number | string {
  if (!NUMBER.test(v)) return `CPUS must be a number, got '${v}'`;
  const n = Number(v);
  return n > 0 ? n : `CPUS must be greater than 0, got '${v}'`;
}

/** A grammar `integer` no larger than `max`. */
export function parseInteger(directive: string, v: string, max = Number.MAX_SAFE_INTEGER): number | string {
  if (!INTEGER.test(v)) return `${directive} must be a number, got '${v}'`;
  const n = Number(v);
  return n <= max ? n : `${directive} must be at most ${max}, got ${v}`;
}

export function parseIoWeight(v: string): number | string {
  if (!INTEGER.test(v)) return `IO_WEIGHT must be a number, got '${v}'`;
  const n = Number(v);
  return n >= 10 && n <= 1000 ? n : `IO_WEIGHT must be 10-1000, got ${v.replace(/^0+(?=\d)/, '')}`;
}

/** A port, 1–65535; `which` is `host` or `container`. */
export function parsePort(which: string, v: string): number | string {
  return portFromText(v) ?? `invalid ${which} port '${v}' in PUBLISH (expected 1-65535)`;
}

export function parseBool(directive: string, v: string): boolean | string {
  if (v === 'true') return true;
  if (v === 'false') return false;
  return `${directive} expects 'true' or 'false', got '${v}'`;
}

/** Seconds in a duration such as `30s` or `5m`; undefined when it is not one. */
export function durationSeconds(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (m === null) return undefined;
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

/** Bytes in a memory size such as `512M` (K, M and G are powers of 1024); undefined when it is not one. */
export function memoryBytes(text: string): number | undefined {
  const m = MEMORY.exec(text);
  if (m === null) return undefined;
  const shift = { K: 10, M: 20, G: 30 }[m[2] as 'K' | 'M' | 'G'];
  return Number(m[1]) * 2 ** shift;
}

/** How a HEALTHCHECK is run: an HTTP GET expecting 2xx, or a command expecting exit 0. */
export function healthcheckKind(healthcheck: string): 'http' | 'command' {
  return /^https?:\/\//.test(healthcheck) ? 'http' : 'command';
}

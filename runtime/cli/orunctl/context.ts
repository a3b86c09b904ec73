/** What every orunctl command gets: its output streams, environment, clock and client. */
import { OrunError } from '../../../apis/errors.ts';
import { ApiClient, resolveSocketPath } from '../../api/client.ts';
import type { Palette } from './printers/color.ts';

/** Where output goes: a stream, or a function that writes to a file descriptor (cmd/orunctl). */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface Io {
  stdout: Output;
  stderr: Output;
  env: NodeJS.ProcessEnv;
  /** Ends -w and -f (Ctrl-C). */
  signal: AbortSignal;
  now(): Date;
}

export interface Context extends Io {
  client: ApiClient;
  palette: Palette;
}

export function clientFor(socket: string | undefined, env: NodeJS.ProcessEnv): ApiClient {
  return new ApiClient({ socketPath: resolveSocketPath(socket, env) });
}

/** Exit codes: 0 ok, 1 error, 2 usage. */
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

/** A mistake in how orunctl was called (exit code 2). */
export class UsageError extends OrunError {
  constructor(message: string) {
    super('orunctl.usage', message);
    this.name = 'UsageError';
  }
}

/** Runs the built orunctl (dist/orunctl.js) as users do, with only PATH and the given env. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const NODE = existsSync(resolve('node_modules/.bin/node'))
  ? resolve('node_modules/.bin/node')
  : process.execPath;
const ORUNCTL = resolve('dist/orunctl.js');

export interface OrunctlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `orunctl args...`; `onStdout` sees the output so far and may end the process (SIGINT),
 * e.g. once `-w` printed what the test waits for; it sends one SIGINT however often it is called. `timeoutMs` (default 30 s) kills it.
 */
export function orunctl(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  onStdout?: (out: string, stop: () => void) => void,
  timeoutMs = 30_000,
): Promise<OrunctlResult> {
  return new Promise((res, reject) => {
    const child = spawn(NODE, [ORUNCTL, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    let stdout = '';
    let stderr = '';
    // One Ctrl-C, however many chunks arrive after it: a second SIGINT is orunctl's "exit at once"
    // (code 130), which is not what these tests press.
    let stopped = false;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      child.kill('SIGINT');
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      onStdout?.(stdout, stop);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

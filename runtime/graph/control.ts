/**
 * The control socket of a supervising `orch up` (foreground or `-d`): `orch restart SERVICE`
 * asks the process that supervises the project, over a unix socket beside its run state. One
 * JSON request per connection, one JSON answer: `{"restart":"web"}` → `{"ok":true}` or
 * `{"ok":false,"error":"..."}`.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { errorMessage, OrunError } from '../../apis/errors.ts';

export interface ControlRequest {
  readonly restart: string;
}

export type ControlAnswer = { readonly ok: true } | { readonly ok: false; readonly error: string };

/**
 * `<stateDir>/<project>.sock`, or a hashed name in the temporary directory when that path is
 * longer than a unix socket address allows (108 bytes on Linux).
 */
export function controlSocketPath(stateDir: string, project: string): string {
  const path = join(stateDir, `${project}.sock`);
  if (Buffer.byteLength(path) < 100) return path;
  return join(tmpdir(), `orch-${createHash('sha256').update(path).digest('hex').slice(0, 16)}.sock`);
}

/**
 * Serves requests until `signal` aborts; then closes the socket and removes its file. The
 * directory is made when missing (a project's first `orch up` starts serving before its run
 * state is first written).
 */
export async function serveControl(
  path: string,
  handle: (req: ControlRequest) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  rmSync(path, { force: true });
  const server: Server = createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const answer = (a: ControlAnswer): void => {
        conn.end(JSON.stringify(a) + '\n');
      };
      let req: ControlRequest;
      try {
        req = JSON.parse(buf.slice(0, nl)) as ControlRequest;
      } catch {
        answer({ ok: false, error: 'bad request' });
        return;
      }
      handle(req).then(
        () => answer({ ok: true }),
        (err: unknown) => answer({ ok: false, error: errorMessage(err) }),
      );
    });
    conn.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  server.unref();
  if (!signal.aborted)
    await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(path, { force: true });
}

/** Sends one request; rejects `SupervisorUnreachable` when nothing listens, `ControlFailed` with the supervisor's error. */
export function sendControl(path: string, req: ControlRequest, timeoutMs = 120_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(path);
    let buf = '';
    const timer = setTimeout(
      () => conn.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)),
      timeoutMs,
    );
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(JSON.stringify(req) + '\n'));
    conn.on('data', (d: string) => (buf += d));
    conn.on('error', (err) => {
      clearTimeout(timer);
      reject(
        new OrunError('SupervisorUnreachable', `no orch up supervises this project (${errorMessage(err)})`, {
          cause: err,
          context: { socket: path },
        }),
      );
    });
    conn.on('end', () => {
      clearTimeout(timer);
      let a: ControlAnswer;
      try {
        a = JSON.parse(buf) as ControlAnswer;
      } catch {
        reject(
          new OrunError('ControlFailed', 'the supervisor gave no answer', { context: { socket: path } }),
        );
        return;
      }
      if (a.ok) resolve();
      else reject(new OrunError('ControlFailed', a.error, { context: { socket: path } }));
    });
  });
}

/**
 * The unix socket of the local API. Access control is the file mode: 0660, owner and group only,
 * with no window in which the socket is world-accessible (it is created under a umask).
 */
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import net from 'node:net';
import { dirname } from 'node:path';
import { OrunError } from '../../apis/errors.ts';

export interface UnixSocketListener {
  readonly path: string;
  /** Stops accepting, drops open connections (watch and log streams end) and removes the socket. */
  close(): Promise<void>;
}

export interface ListenOptions {
  /** The socket's mode. Default 0o660. Never give the world access. */
  mode?: number;
  /** The mode of the parent directory if it has to be created. Default 0o750. */
  dirMode?: number;
}

/**
 * Listens on the unix socket `path`:
 * - creates the parent directory (mode 0750) when missing;
 * - replaces a stale socket left by a crash (nothing answers on it);
 * - refuses with OrunError `ApiSocketInUse` when a live process answers on it, and with
 *   `ApiSocketPathInvalid` when `path` exists and is not a socket (it is never removed);
 * - creates the socket under umask 0o117, then chmods it to `mode`.
 */
export async function listenUnixSocket(
  path: string,
  server: net.Server,
  options: ListenOptions = {},
): Promise<UnixSocketListener> {
  const mode = options.mode ?? 0o660;
  await mkdir(dirname(path), { recursive: true, mode: options.dirMode ?? 0o750 });
  await removeStaleSocket(path);
  await listenUnderUmask(path, server, 0o777 & ~mode);
  await chmod(path, mode);
  const { ino } = await lstat(path);
  return { path, close: () => closeListener(path, ino, server) };
}

async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new OrunError('ApiSocketPathInvalid', `api socket: stat ${path}: ${String(err)}`, {
      cause: err,
      context: { path },
    });
  });
  if (st === undefined) return;
  if (!st.isSocket()) {
    throw new OrunError(
      'ApiSocketPathInvalid',
      `api socket: ${path} exists and is not a socket; refusing to replace it`,
      {
        context: { path },
      },
    );
  }
  if (await answers(path)) {
    throw new OrunError(
      'ApiSocketInUse',
      `api socket: ${path} is in use: another orun agent is answering on it`,
      {
        context: { path },
      },
    );
  }
  await unlink(path);
}

/** True when something accepts a connection on `path` (ECONNREFUSED means a stale socket). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const conn = net.connect({ path });
    conn.once('connect', () => {
      conn.destroy();
      resolve(true);
    });
    conn.once('error', (err) => {
      const code = errnoCode(err);
      if (code === 'ECONNREFUSED' || code === 'ENOENT') resolve(false);
      else
        reject(
          new OrunError('ApiSocketPathInvalid', `api socket: probe ${path}: ${err.message}`, {
            cause: err,
            context: { path },
          }),
        );
    });
  });
}

function listenUnderUmask(path: string, server: net.Server, mask: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      restore();
      const inUse = errnoCode(err) === 'EADDRINUSE';
      reject(
        new OrunError(
          inUse ? 'ApiSocketInUse' : 'ApiSocketListen',
          `api socket: listen on ${path}: ${err.message}`,
          {
            cause: err,
            context: { path },
          },
        ),
      );
    };
    // process.umask is process-wide; it is set only for the synchronous bind inside listen().
    const previous = process.umask(mask);
    let restored = false;
    const restore = (): void => {
      if (!restored) process.umask(previous);
      restored = true;
    };
    server.once('error', onError);
    server.listen({ path }, () => {
      server.off('error', onError);
      resolve();
    });
    restore();
  });
}

async function closeListener(path: string, ino: number, server: net.Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  if ('closeAllConnections' in server && typeof server.closeAllConnections === 'function') {
    (server as { closeAllConnections(): void }).closeAllConnections();
  }
  await closed;
  // Remove the socket only if it is still ours (a newer agent may have replaced it).
  const st = await lstat(path).catch(() => undefined);
  if (st?.isSocket() === true && st.ino === ino) await unlink(path).catch(() => undefined);
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

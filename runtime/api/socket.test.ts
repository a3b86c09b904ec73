import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { listenUnixSocket, type UnixSocketListener } from './socket.ts';

let dir: string;
const open: UnixSocketListener[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orun-sock-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
  await rm(dir, { recursive: true, force: true });
});

async function listen(path: string): Promise<UnixSocketListener> {
  const l = await listenUnixSocket(
    path,
    net.createServer((c) => {
      c.on('error', () => undefined);
      c.end('hi');
    }),
  );
  open.push(l);
  return l;
}

/** Starts a process listening on `path` and SIGKILLs it, so the socket file stays behind. */
async function crashedListener(path: string): Promise<void> {
  const script = "require('node:net').createServer().listen(process.argv[1], () => console.log('up'))";
  const child = spawn(process.execPath, ['-e', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('error', reject);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('listenUnixSocket', () => {
  it('creates the socket 0660 (no world bits) in a 0750 directory it creates', async () => {
    const path = join(dir, 'data', 'orun.sock');
    await listen(path);
    const st = await stat(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
    expect((await stat(join(dir, 'data'))).mode & 0o777).toBe(0o750);
  });

  it('restores the process umask', async () => {
    const before = process.umask();
    await listen(join(dir, 'orun.sock'));
    expect(process.umask()).toBe(before);
  });

  it('replaces a stale socket left by a crash', async () => {
    const path = join(dir, 'orun.sock');
    // What a killed agent leaves behind: a socket file nobody listens on.
    await crashedListener(path);
    expect((await stat(path)).isSocket()).toBe(true);
    await listen(path);
    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect(path);
      c.setEncoding('utf8');
      c.once('data', (d: string) => resolve(d));
      c.once('error', reject);
    });
    expect(reply).toBe('hi');
  });

  it('refuses a second listener while the first answers, naming the path', async () => {
    const path = join(dir, 'orun.sock');
    await listen(path);
    const err = await rejection(listenUnixSocket(path, net.createServer()));
    expect(isOrunError(err, 'ApiSocketInUse')).toBe(true);
    expect((err as Error).message).toContain(path);
    expect((await stat(path)).isSocket()).toBe(true);
  });

  it('never replaces a path that is not a socket', async () => {
    const path = join(dir, 'orun.sock');
    await writeFile(path, 'data');
    const err = await rejection(listenUnixSocket(path, net.createServer()));
    expect(isOrunError(err, 'ApiSocketPathInvalid')).toBe(true);
  });

  it('removes the socket on close', async () => {
    const path = join(dir, 'orun.sock');
    const l = await listen(path);
    await l.close();
    open.splice(0);
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

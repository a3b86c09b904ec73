/**
 * Fixtures for the bootstrap e2e tests: the CLI as users run it (dist/orun.js in a child process),
 * and a systemd node in a container (DESIGN §4; image from hack/node-image.sh) with its own,
 * isolated dockerd, so the agent bootstrap starts there never sees other tests' containers.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { MissingServiceError, requireCommand, requireDocker } from '../support/services.ts';

const run = promisify(execFile);
export const ROOT = resolve(import.meta.dirname, '../..');
export const ORUN = join(ROOT, 'dist/orun.js');
export const NODE_IMAGE = process.env.ORUN_NODE_IMAGE ?? 'orun-test/node:bookworm';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `node dist/orun.js ...args` (or `exe ...args`, e.g. a single executable); never rejects on a
 * non-zero exit.
 */
export function orun(args: string[], timeoutMs = 180_000, exe?: string): Promise<CliResult> {
  return new Promise((res, rej) => {
    const child = spawn(exe ?? process.execPath, exe ? args : [ORUN, ...args], {
      cwd: ROOT,
      env: { ...process.env, SSH_AUTH_SOCK: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', rej);
    child.once('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

export async function docker(...args: string[]): Promise<string> {
  return (await run('docker', args, { encoding: 'utf8', maxBuffer: 16 << 20 })).stdout;
}

/**
 * An isolated dockerd (own socket, data and exec roots, its own bridge, no iptables), as a child.
 * Never `--bridge=none`: a dockerd started that way deletes the host's docker0, breaking the
 * shared dockerd's containers. Its bridge is made here (a random private /24) and removed on stop.
 */
export async function startDockerd(
  dir: string,
  /** Extra dockerd flags, e.g. `--default-address-pool base=10.201.0.0/16,size=24`. */
  extraArgs: string[] = [],
): Promise<{ socket: string; stop(): Promise<void> }> {
  requireCommand('dockerd', 'dockerd', ['--version']);
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'docker.sock');
  const suffix = randomBytes(3);
  const bridge = `orunbs${suffix.toString('hex')}`;
  await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await run('ip', [
    'addr',
    'add',
    `10.${200 + ((suffix[0] ?? 0) % 50)}.${suffix[1] ?? 0}.1/24`,
    'dev',
    bridge,
  ]);
  await run('ip', ['link', 'set', bridge, 'up']);
  const removeBridge = () =>
    run('ip', ['link', 'del', bridge]).then(
      () => undefined,
      () => undefined,
    );
  const child = spawn(
    'dockerd',
    [
      `--host=unix://${socket}`,
      `--data-root=${join(dir, 'data')}`,
      `--exec-root=${join(dir, 'exec')}`,
      `--pidfile=${join(dir, 'docker.pid')}`,
      `--bridge=${bridge}`,
      '--iptables=false',
      '--ip-masq=false',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  for (let i = 0; i < 120 && child.exitCode === null; i++) {
    if (existsSync(socket)) {
      const ok = await run('docker', ['-H', `unix://${socket}`, 'version'], { encoding: 'utf8' }).then(
        () => true,
        () => false,
      );
      if (ok)
        return {
          socket,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            await exited;
            await removeBridge();
          },
        };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGKILL');
  await exited;
  await removeBridge();
  throw new MissingServiceError('an isolated dockerd', `it did not start: ${log.trim()}`);
}

export interface NodeContainer {
  name: string;
  ip: string;
  exec(...cmd: string[]): Promise<string>;
  /** Like exec, but resolves with the exit code instead of rejecting. */
  status(...cmd: string[]): Promise<{ code: number; stdout: string }>;
  remove(): Promise<void>;
}

/**
 * Boots the node image with systemd as PID 1 (DESIGN §4 flags) and waits until it is running.
 * `dockerSocket` is mounted as the node's /var/run/docker.sock (default: none, a node without Docker).
 */
export async function startNode(opts: {
  dockerSocket?: string;
  authorizedKey: string;
  /** Extra `docker run -v` bind mounts (`host:container[:ro]`). */
  mounts?: string[];
  /** Extra `docker run` flags, e.g. `--network host` (the node then shares this machine's ports). */
  dockerArgs?: string[];
}): Promise<NodeContainer> {
  requireDocker();
  requireCommand(`the node image ${NODE_IMAGE} (build it: bash hack/node-image.sh)`, 'docker', [
    'image',
    'inspect',
    NODE_IMAGE,
  ]);
  const name = `orun-bootstrap-e2e-${randomBytes(4).toString('hex')}`;
  const remove = async () => {
    await docker('rm', '-f', '-v', name).catch(() => undefined);
  };
  await docker(
    'run', '-d', '--name', name, '--label', 'orun-test=bootstrap',
    '--cap-add', 'SYS_ADMIN', '--security-opt', 'seccomp=unconfined', '--cgroupns=host',
    '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw', '--tmpfs', '/run', '--tmpfs', '/run/lock',
    ...(opts.dockerSocket ? ['-v', `${opts.dockerSocket}:/var/run/docker.sock`] : []),
    ...(opts.mounts ?? []).flatMap((m) => ['-v', m]),
    ...(opts.dockerArgs ?? []),
    '-e', 'container=docker', NODE_IMAGE,
  ).catch(async (err: unknown) => {
    await remove(); // `docker run` can fail after creating the container
    throw err;
  }); // prettier-ignore
  const exec = (...cmd: string[]) => docker('exec', name, ...cmd);
  const status = (...cmd: string[]) =>
    run('docker', ['exec', name, ...cmd], { encoding: 'utf8' }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '' }),
    );
  try {
    let state = '';
    for (let i = 0; i < 240; i++) {
      state = (await status('systemctl', 'is-system-running')).stdout.trim();
      if (state === 'running' || state === 'degraded') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    if (state !== 'running') {
      const failed = (await status('systemctl', '--failed', '--no-legend')).stdout;
      throw new MissingServiceError(
        `a systemd node from ${NODE_IMAGE}`,
        `systemd is ${state || 'not up'}: ${failed}`,
      );
    }
    await exec('sh', '-c', `printf '%s\\n' '${opts.authorizedKey}' > /root/.ssh/authorized_keys`);
    const ip = (await docker('inspect', '-f', '{{.NetworkSettings.IPAddress}}', name)).trim();
    return { name, ip, exec, status, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/**
 * The node image without systemd: `sshd -D` is PID 1 (host keys made at start), so SSH works but
 * /run/systemd/system does not exist — a host bootstrap must refuse. No Docker socket.
 */
export async function startSshOnlyNode(authorizedKey: string): Promise<NodeContainer> {
  requireDocker();
  const name = `orun-bootstrap-e2e-nosd-${randomBytes(4).toString('hex')}`;
  const remove = async () => {
    await docker('rm', '-f', '-v', name).catch(() => undefined);
  };
  const script = [
    'ssh-keygen -A >/dev/null',
    'mkdir -p /run/sshd /root/.ssh',
    'printf "%s\\n" "$0" > /root/.ssh/authorized_keys',
    'exec /usr/sbin/sshd -D -e',
  ].join(' && ');
  await docker(
    'run', '-d', '--name', name, '--label', 'orun-test=bootstrap',
    '--entrypoint', 'sh', NODE_IMAGE, '-c', script, authorizedKey,
  ).catch(async (err: unknown) => {
    await remove();
    throw err;
  }); // prettier-ignore
  const exec = (...cmd: string[]) => docker('exec', name, ...cmd);
  const status = (...cmd: string[]) =>
    run('docker', ['exec', name, ...cmd], { encoding: 'utf8' }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '' }),
    );
  try {
    const ip = (await docker('inspect', '-f', '{{.NetworkSettings.IPAddress}}', name)).trim();
    for (let i = 0; ; i++) {
      const up = await new Promise<boolean>((res) => {
        const s = connect({ host: ip, port: 22 }, () => {
          s.destroy();
          res(true);
        });
        s.once('error', () => res(false));
      });
      if (up) break;
      if (i >= 120) throw new MissingServiceError(`sshd in ${name}`, 'it did not listen on :22');
      await new Promise((r) => setTimeout(r, 250));
    }
    return { name, ip, exec, status, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

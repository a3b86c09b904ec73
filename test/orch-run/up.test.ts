/**
 * `orch up/status/down` end to end: dist/orch.js runs a graph of host processes (a shell loop,
 * busybox httpd) and a container (busybox httpd in orun-test/busybox:1) against the real dockerd.
 * Each test has its own project name (= container name prefix and label) and cleans up only that.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE, requireTestImage } from '../support/services.ts';
import { NodeProcessRunner } from '../../runtime/process/index.ts';

const ORCH = join(import.meta.dirname, '..', '..', 'dist', 'orch.js');
const projects: string[] = [];
const dirs: string[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function project(): Promise<{ dir: string; name: string; web: number; box: number }> {
  const name = `orun-t-orch-${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'orun-orch-run-'));
  projects.push(name);
  dirs.push(dir);
  const web = await freePort();
  const box = await freePort();
  writeFileSync(join(dir, 'index.html'), 'host web\n');
  writeFileSync(
    join(dir, 'Orchfile'),
    `
SERVICE ticker
RUN while true; do echo tick; sleep 1; done

SERVICE web
RUN exec busybox httpd -f -p 127.0.0.1:${web} -h ${dir}
REQUIRES ticker
HEALTHCHECK http://127.0.0.1:${web}/index.html
READINESS_TIMEOUT 20s

SERVICE box
FROM ${TEST_IMAGE}
PUBLISH 127.0.0.1:${box}:80
HEALTHCHECK http://127.0.0.1:${box}/health
REQUIRES web
TIMEOUT_STOP 5s
`,
  );
  return { dir, name, web, box };
}

function orch(args: string[], cwd: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [ORCH, ...args], { cwd, encoding: 'utf8', timeout: 90_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function get(port: number, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return (await res.text()).trim();
}

function containers(name: string, all = true): string[] {
  const out = execFileSync(
    'docker',
    ['ps', ...(all ? ['-a'] : []), '-q', '--filter', `label=orch.project=${name}`],
    {
      encoding: 'utf8',
    },
  );
  return out.split('\n').filter((l) => l !== '');
}

function waitForText(
  child: ChildProcess,
  read: () => string,
  text: string,
  timeoutMs = 60_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (read().includes(text)) done();
    }, 50);
    const fail = setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`timed out waiting for ${JSON.stringify(text)}; output so far:\n${read()}`));
    }, timeoutMs);
    const done = (): void => {
      clearInterval(timer);
      clearTimeout(fail);
      resolve();
    };
    child.once('exit', () => {
      if (!read().includes(text)) {
        clearInterval(timer);
        clearTimeout(fail);
        reject(new Error(`orch exited before ${JSON.stringify(text)}:\n${read()}`));
      }
    });
  });
}

beforeAll(() => {
  requireTestImage();
});

afterAll(() => {
  for (const p of projects) {
    const ids = containers(p);
    if (ids.length > 0) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
    spawnSync('docker', ['network', 'rm', `${p}_default`], { stdio: 'ignore' });
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('orch up (foreground)', () => {
  it('starts host and container services in REQUIRES order and SIGTERM stops them in reverse', async () => {
    const p = await project();
    const child = spawn(process.execPath, [ORCH, 'up', 'Orchfile', '-p', p.name], { cwd: p.dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await waitForText(child, () => stderr, 'orch: box: running');
      const running = [...stderr.matchAll(/^orch: (\w+): running/gm)].map((m) => m[1]);
      expect(running).toEqual(['ticker', 'web', 'box']);
      expect(stdout).toMatch(/^ticker \| tick$/m);
      expect(await get(p.web, '/index.html')).toBe('host web');
      expect(await get(p.box, '/health')).toBe('ok');

      const status = orch(['status', 'Orchfile', '-p', p.name], p.dir);
      expect(status.status).toBe(0);
      expect(status.stdout).toMatch(/^box\s+container\s+running\s+\S+-box\s+healthy\s+0$/m);
      expect(status.stdout).toMatch(/^web\s+host\s+running\s+\d+\s+healthy\s+0$/m);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const stopped = [...stderr.matchAll(/^orch: (\w+): stopped/gm)].map((m) => m[1]);
      expect(stopped).toEqual(['box', 'web', 'ticker']);
      await expect(get(p.web, '/')).rejects.toThrow();
      expect(containers(p.name, false)).toEqual([]);
      // As `docker compose`: Ctrl-C keeps the stopped container; down removes it.
      expect(containers(p.name)).toHaveLength(1);
      const down = orch(['down', 'Orchfile', '-p', p.name], p.dir);
      expect(down.status).toBe(0);
      expect(containers(p.name)).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('orch up --detach, status, down', () => {
  it('leaves services running, reports them, and down stops and removes everything', async () => {
    const p = await project();
    const up = orch(['up', '--detach', 'Orchfile', '-p', p.name], p.dir);
    expect(up.stderr).toContain('orch: box: running');
    expect(up.status).toBe(0);
    expect(await get(p.web, '/index.html')).toBe('host web');
    expect(await get(p.box, '/health')).toBe('ok');

    const status = orch(['status', 'Orchfile', '-p', p.name], p.dir);
    expect(status.stdout.split('\n')[0]).toMatch(
      /^SERVICE\s+MODE\s+STATE\s+PID\/CONTAINER\s+HEALTH\s+RESTARTS$/,
    );
    expect(status.stdout).toMatch(/^ticker\s+host\s+running\s+\d+\s+<none>\s+0$/m);
    expect(status.stdout).toMatch(/^box\s+container\s+running\s+\S+-box\s+healthy\s+0$/m);
    const json = JSON.parse(orch(['status', 'Orchfile', '-p', p.name, '-o', 'json'], p.dir).stdout) as {
      service: string;
      target: string;
    }[];
    const pid = Number(json.find((r) => r.service === 'web')!.target);
    expect(pid).toBeGreaterThan(1);

    const down = orch(['down', 'Orchfile', '-p', p.name], p.dir);
    expect(down.status).toBe(0);
    // down stops the supervisor, which stops the services dependants first; then containers and network go.
    expect(down.stderr.split('\n').filter((l) => l.startsWith('orch:'))).toEqual([
      expect.stringMatching(/^orch: asking the orch up supervising .* to stop$/),
      expect.stringMatching(/^orch: box: removed container/),
      `orch: removed network ${p.name}_default`,
    ]);
    const log = readFileSync(join(p.dir, '.orch/state/logs/orch.log'), 'utf8');
    // The supervisor's lines start with their time (RFC 3339).
    expect([...log.matchAll(/^\S+Z orch: (\w+): stopped/gm)].map((m) => m[1])).toEqual([
      'box',
      'web',
      'ticker',
    ]);
    // Not `kill(-pid, 0)`: an orphaned member may linger as a zombie until init reaps it.
    expect(new NodeProcessRunner().alive(pid)).toBe(false);
    expect(containers(p.name)).toEqual([]);
    const after = orch(['status', 'Orchfile', '-p', p.name], p.dir);
    expect(after.stdout).toMatch(/^web\s+host\s+not-started/m);
  });

  it.each([
    [['up', 'Orchfile', 'nope'], 2, "no service named 'nope'"],
    [['logs', 'Orchfile'], 2, 'name one service'],
    [['down', 'Orchfile', '--arg', 'x'], 2, "--arg value must be name=value, got 'x'"],
  ])('orch %j exits %i', async (args, code, message) => {
    const p = await project();
    const r = orch([...args, '-p', p.name], p.dir);
    expect(r.status).toBe(code);
    expect(r.stderr).toContain(message);
  });
});

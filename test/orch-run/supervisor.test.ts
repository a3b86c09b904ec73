/**
 * `orch up -d` leaves a supervisor: against the real dockerd and real processes, with no file
 * argument (./Orchfile). RESTART brings a killed container and a killed host process back within
 * RESTART_DELAY plus a second; `status` uses the executor's words; `logs`, `restart`; `down` stops
 * the supervisor. And two copies of one project side by side with --prefix/--port-offset.
 * Each test has its own project name and cleans up only that.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunState } from '../../runtime/graph/index.ts';
import { NodeProcessRunner } from '../../runtime/process/index.ts';
import { freePort } from '../support/net.ts';
import { TEST_IMAGE, requireTestImage } from '../support/services.ts';

const ORCH = join(import.meta.dirname, '..', '..', 'dist', 'orch.js');
const projects: string[] = [];
const dirs: string[] = [];
/** Project directory → project name, for the cleanup of supervisors a failed test left behind. */
const owners: [string, string][] = [];

function orch(args: string[], cwd: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [ORCH, ...args], { cwd, encoding: 'utf8', timeout: 90_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function project(text: string): { dir: string; name: string } {
  const name = `orun-t-orchsup-${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'orun-orch-sup-'));
  projects.push(name);
  dirs.push(dir);
  owners.push([dir, name]);
  writeFileSync(join(dir, 'Orchfile'), text);
  return { dir, name };
}

function state(dir: string, name: string): RunState {
  return JSON.parse(readFileSync(join(dir, '.orch/state', `${name}.json`), 'utf8')) as RunState;
}

/**
 * Waits until the run state matches `done`: it is checked now and at every change of the state
 * directory (the supervisor writes the state at every change, by temporary file and rename), never
 * on a timer. Returns when it matched.
 */
async function until(
  dir: string,
  name: string,
  done: (s: RunState) => boolean,
  timeoutMs = 30_000,
): Promise<number> {
  let last: RunState | undefined;
  const matches = (): boolean => {
    try {
      last = state(dir, name);
    } catch {
      return false; // between the temporary file and its rename
    }
    return done(last);
  };
  return new Promise((resolve, reject) => {
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      watcher.close();
      if (err === undefined) resolve(Date.now());
      else reject(err);
    };
    const watcher = watch(join(dir, '.orch/state'), () => {
      if (matches()) finish();
    });
    const timer = setTimeout(
      () => finish(new Error(`run state never matched; last: ${JSON.stringify(last)}`)),
      timeoutMs,
    );
    if (matches()) finish();
  });
}

const svc = (s: RunState, name: string) => s.services.find((x) => x.name === name)!;

beforeAll(() => {
  requireTestImage();
});

afterAll(() => {
  for (const [d, name] of owners) {
    try {
      // A failed test may leave its supervisor running: stop it (it stops its services).
      const owner = (JSON.parse(readFileSync(join(d, '.orch/state', `${name}.json`), 'utf8')) as RunState)
        .owner;
      if (owner !== undefined)
        spawnSync(process.execPath, [ORCH, 'down', '-p', name], { cwd: d, stdio: 'ignore' });
    } catch {
      // No run state: nothing runs.
    }
  }
  for (const p of projects) {
    const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=orch.project=${p}`], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter((l) => l !== '');
    if (ids.length > 0) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
    spawnSync('docker', ['network', 'rm', `${p}_default`], { stdio: 'ignore' });
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('orch up -d: the supervisor', () => {
  it('restarts a killed RESTART always container and on-failure host process within RESTART_DELAY + 1s; status, logs, restart, down', async () => {
    const p = project(`
SERVICE seed
RUN echo seeded
ONESHOT true

SERVICE ticker
RUN while true; do echo tick; sleep 0.2; done
RESTART on-failure
RESTART_DELAY 2s

SERVICE box
FROM ${TEST_IMAGE}
CMD sh -c 'echo box-started; trap "exit 0" TERM; while true; do sleep 1; done'
RESTART always
RESTART_DELAY 2s
REQUIRES seed
`);
    const up = orch(['up', '-d', '-p', p.name], p.dir);
    expect(up.stderr).toContain('orch: box: running');
    expect(up.stderr).toMatch(/supervisor running in the background \(pid \d+/);
    expect(up.status).toBe(0);
    const supervisor = state(p.dir, p.name).owner!.pid;
    expect(new NodeProcessRunner().alive(supervisor)).toBe(true);

    // The same words as in the foreground: a ONESHOT that exited 0 is `completed`.
    const status = orch(['status', '-p', p.name], p.dir);
    expect(status.stdout).toMatch(/^seed\s+host\s+completed\s+<none>\s+<none>\s+0$/m);
    expect(status.stdout).toMatch(/^ticker\s+host\s+running\s+\d+\s+<none>\s+0$/m);
    expect(status.stdout).toMatch(/^box\s+container\s+running\s+\S+-box\s+<none>\s+0$/m);

    // The restart is timed where it happens: the kill (host) / the container's FinishedAt, to the
    // new instance's start (the supervisor's record / the container's StartedAt).
    const before = state(p.dir, p.name);
    const pid = svc(before, 'ticker').pid!;
    const killed = Date.now();
    process.kill(-pid, 'SIGKILL');
    await until(p.dir, p.name, (s) => svc(s, 'ticker').state === 'running' && svc(s, 'ticker').pid !== pid);
    expect(svc(state(p.dir, p.name), 'ticker').startedAt! - killed).toBeLessThan(2000 + 1000);

    const since = String(Math.floor(Date.now() / 1000) - 1);
    execFileSync('docker', ['kill', `${p.name}-box`], { stdio: 'ignore' });
    await until(p.dir, p.name, (s) => svc(s, 'box').state === 'running' && svc(s, 'box').restarts === 1);
    // dockerd's own die event (it can lag the exit by a second on a loaded machine) to the
    // supervisor's restart (its log line, stamped when it starts the container again).
    const until2 = String(Math.ceil(Date.now() / 1000) + 1);
    const die = execFileSync(
      'docker',
      [
        'events',
        '--since',
        since,
        '--until',
        until2,
        '--filter',
        `container=${p.name}-box`,
        '--filter',
        'event=die',
        '--format',
        '{{.TimeNano}}',
      ],
      { encoding: 'utf8' },
    );
    const diedAt = Number(BigInt(die.trim().split('\n')[0]!) / 1_000_000n);
    const log = readFileSync(join(p.dir, '.orch/state/logs/orch.log'), 'utf8');
    const restartedAt = Date.parse(/^(\S+) orch: box: starting: restart 1$/m.exec(log)![1]!);
    expect(restartedAt - diedAt).toBeGreaterThanOrEqual(2000 - 50);
    expect(restartedAt - diedAt).toBeLessThan(2000 + 1000);
    expect(orch(['status', '-p', p.name], p.dir).stdout).toMatch(
      /^box\s+container\s+running\s+\S+\s+<none>\s+1$/m,
    );

    // Logs: a host service from the supervisor's files, a container from the engine.
    expect(orch(['logs', 'ticker', '-p', p.name, '--tail', '2'], p.dir).stdout).toMatch(/^tick$/m);
    expect(orch(['logs', 'seed', '-p', p.name], p.dir).stdout).toBe('seeded\n');
    expect(orch(['logs', 'box', '-p', p.name], p.dir).stdout).toMatch(/^box-started\nbox-started\n/);

    const restart = orch(['restart', 'box', '-p', p.name], p.dir);
    expect(restart.stderr).toContain('orch: box: restarted');
    await until(p.dir, p.name, (s) => svc(s, 'box').state === 'running');
    expect(orch(['logs', 'box', '-p', p.name], p.dir).stdout.match(/box-started/g)).toHaveLength(3);

    const ticker = svc(state(p.dir, p.name), 'ticker').pid!;
    const down = orch(['down', '-p', p.name], p.dir);
    expect(down.status).toBe(0);
    expect(down.stderr).toContain(`asking the orch up supervising ${p.name} (pid ${supervisor}) to stop`);
    expect(new NodeProcessRunner().alive(supervisor)).toBe(false);
    expect(new NodeProcessRunner().alive(ticker)).toBe(false);
    expect(orch(['status', '-p', p.name], p.dir).stdout).toMatch(/^box\s+container\s+not-started/m);
  });

  it('runs two copies of one project side by side with --prefix and --port-offset', async () => {
    const a = await freePort();
    let b = await freePort();
    while (b <= a) b = await freePort();
    const p = project(`
SERVICE web
FROM ${TEST_IMAGE}
PUBLISH 127.0.0.1:${a}:80
HEALTHCHECK http://127.0.0.1:${a}/health
`);
    const first = orch(['up', '-d', '-p', p.name], p.dir);
    expect(first.status).toBe(0);
    // HEALTHCHECKs are not rewritten by the offset: the copy's overlay points its check at its port.
    writeFileSync(join(p.dir, 'copy.orch'), `SERVICE web\nHEALTHCHECK http://127.0.0.1:${b}/health\n`);
    projects.push(`b-${p.name}`);
    owners.push([p.dir, `b-${p.name}`]);
    const second = orch(
      ['up', '-d', 'Orchfile', 'copy.orch', '-p', p.name, '--prefix', 'b-', '--port-offset', String(b - a)],
      p.dir,
    );
    expect(second.stderr).toContain('orch: web: running');
    expect(second.status).toBe(0);
    expect(await (await fetch(`http://127.0.0.1:${a}/health`)).text()).toBe('ok\n');
    expect(await (await fetch(`http://127.0.0.1:${b}/health`)).text()).toBe('ok\n');
    const names = execFileSync('docker', ['ps', '--format', '{{.Names}}', '--filter', `name=${p.name}-web`], {
      encoding: 'utf8',
    });
    expect(names.split('\n').filter(Boolean).sort()).toEqual([`${p.name}-web`, `b-${p.name}-web`].sort());
    expect(orch(['status', 'Orchfile', 'copy.orch', '-p', p.name, '--prefix', 'b-'], p.dir).stdout).toMatch(
      new RegExp(`^web\\s+container\\s+running\\s+b-${p.name}-web\\s+healthy`, 'm'),
    );
    expect(orch(['down', 'Orchfile', 'copy.orch', '-p', p.name, '--prefix', 'b-'], p.dir).status).toBe(0);
    expect(await (await fetch(`http://127.0.0.1:${a}/health`)).text()).toBe('ok\n');
    expect(orch(['down', '-p', p.name], p.dir).status).toBe(0);
  });
});

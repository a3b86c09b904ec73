/**
 * orunctl as users run it (dist/orunctl.js, built by the global setup) against an API server
 * started in-process on a temp socket with the fake backend.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeApiBackend } from '../../runtime/api/fake-backend.ts';
import { createApiServer } from '../../runtime/api/server.ts';
import { listenUnixSocket, type UnixSocketListener } from '../../runtime/api/socket.ts';
import { sampleDeployment, sampleEvents, sampleNode, sampleService } from '../../runtime/api/testdata.ts';
import { orunctl as runOrunctl, type OrunctlResult } from '../support/orunctl.ts';

const ORUNCTL = join(import.meta.dirname, '../../dist/orunctl.js');
let dir: string;
let socket: string;
let listener: UnixSocketListener;
let backend: FakeApiBackend;
let now: Date;

type Result = OrunctlResult;

/** Runs orunctl on this file's socket; `onStdout` may end it (one SIGINT) once it printed what the test waits for. */
function orunctl(
  args: string[],
  env: Record<string, string> = {},
  onStdout?: (out: string, stop: () => void) => void,
): Promise<Result> {
  return runOrunctl(args, { ORUN_SOCKET: socket, ...env }, onStdout);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orunctl-e2e-'));
  socket = join(dir, 'orun.sock');
  now = new Date(Date.now() - 500); // ages printed by the child are then stable to the second
  backend = new FakeApiBackend();
  backend.set(sampleDeployment(now));
  backend.set(sampleService(now));
  backend.set(sampleNode(now));
  for (const e of sampleEvents(now)) backend.record(e);
  listener = await listenUnixSocket(socket, createApiServer(backend));
});

afterAll(async () => {
  await listener.close();
  await rm(dir, { recursive: true, force: true });
});

describe('orunctl against a local API', () => {
  it('get deploy prints the kubectl table', async () => {
    const r = await orunctl(['get', 'deploy']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'NAME   READY   STATUS    RESTARTS   IMAGE        PORTS          AGE\n' +
        'web    1/1     Running   3          nginx:1.27   8080->80/tcp   5m3s\n',
    );
  });

  it.each([['no'], ['nodes'], ['node']])('get %s', async (kind) => {
    const r = await orunctl(['get', kind]);
    expect(r.stdout).toMatch(
      /^NAME {5}STATUS +BRANCH {3}REVISION {3}SYNCED {4}SUSPENDED {3}AGE\nedge-1 {3}\w+ +main {5}0123456 {4}1\ds ago {3}False {7}2d4h\n$/,
    );
  });

  it('get all prints each kind with kind-prefixed names', async () => {
    const r = await orunctl(['get', 'all']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('deployment/web   1/1');
    expect(r.stdout).toContain('\n\nNAME          DEPLOYMENT');
    expect(r.stdout).toContain('service/web   web');
  });

  it('an empty selection says so on stderr', async () => {
    const r = await orunctl(['get', 'sg']);
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: 'No resources found.\n' });
    expect((await orunctl(['get', 'deploy', '-l', 'app=nope'])).stderr).toBe('No resources found.\n');
  });

  it('describe shows masked secrets, conditions and repeated events', async () => {
    const r = await orunctl(['describe', 'deployment', 'web']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('    DB_PASSWORD:  <set to the secret value>\n');
    expect(r.stdout).toContain('    MODE:         production\n');
    expect(r.stdout).not.toContain('TOPSECRETCIPHERTEXT');
    expect(r.stdout).toContain('  Ready  True    ContainerReady  readiness probe passed');
    expect(r.stdout).toMatch(
      / {2}Warning {2}BackOff {2}6\ds \(x3 over 5m\d*s?\) +deployment {2}restarting failed container\n/,
    );
  });

  it('-o yaml and -o json never carry the secret', async () => {
    const y = await orunctl(['get', 'deploy', 'web', '-o', 'yaml']);
    expect(y.stdout).toMatch(/^apiVersion: run.orcra.dev\/v0alpha\nkind: Deployment\n/);
    expect(y.stdout).toContain('DB_PASSWORD:\n      secret: true\n');
    const j = await orunctl(['get', 'deploy', '-o', 'json']);
    expect(JSON.parse(j.stdout)).toMatchObject({
      apiVersion: 'v1',
      kind: 'List',
      items: [{ metadata: { name: 'web' } }],
    });
    expect(y.stdout + j.stdout).not.toContain('TOPSECRETCIPHERTEXT');
    expect((await orunctl(['get', 'deploy', '-o', 'name'])).stdout).toBe('deployment/web\n');
  });

  it('-w prints the table, then one aligned row per change', async () => {
    let changed = false;
    const r = await orunctl(['get', 'deploy', '-w'], {}, (out, kill) => {
      if (!changed && out.includes('web    1/1')) {
        changed = true;
        backend.set(sampleDeployment(now, 'web', { status: { ready: false, containerID: 'abc' } }));
      }
      if (out.includes('NotReady')) kill();
    });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^web {4}0\/1 {5}NotReady {3}0 {10}nginx:1.27 {3}8080->80\/tcp {3}5m\ds$/);
    backend.set(sampleDeployment(now));
  });

  it('not found is a server error with exit code 1', async () => {
    const r = await orunctl(['get', 'svc', 'nope']);
    expect(r).toMatchObject({ code: 1, stderr: 'Error from server (NotFound): services "nope" not found\n' });
  });

  it('an unknown kind is a usage error (2) with a suggestion', async () => {
    const r = await orunctl(['get', 'deploymnets']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did you mean "deployments"?');
  });

  it.each([
    [['--socket', '/nonexistent/orun.sock', 'get', 'deploy'], {}, '/nonexistent/orun.sock'],
    [['get', 'deploy'], { ORUN_SOCKET: '/nonexistent/env.sock' }, '/nonexistent/env.sock'],
  ])('not running: %j names the socket and how to point elsewhere', async (args, env, path) => {
    const r = await orunctl(args, env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: cannot connect to the orun agent at ${path}: no such socket. Is \`orun start\` running? ` +
        'Or point orunctl at another socket with --socket PATH or ORUN_SOCKET=PATH\n',
    );
  });

  it('logs into a reader that goes away (| head) ends quietly: no EPIPE stack, exit 0', async () => {
    const line = 'x'.repeat(99);
    for (let i = 0; i < 20_000; i++) backend.log('web', line);
    const r = await new Promise<Result>((resolve, reject) => {
      const child = spawn(process.execPath, [ORUNCTL, 'logs', 'web'], {
        env: { PATH: process.env['PATH'] ?? '', ORUN_SOCKET: socket },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      // The first chunk read, the reader closes its end, as head does after its lines.
      child.stdout.once('data', () => child.stdout.destroy());
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout: '', stderr }));
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('reconcile, logs, events and version', async () => {
    expect((await orunctl(['reconcile', 'deploy', 'web'])).stdout).toBe(
      'deployment/web reconcile requested\n',
    );
    expect((await orunctl(['reconcile', 'source'])).stdout).toBe('source reconcile requested\n');
    expect(backend.reconciled).toEqual(['Deployment/web', 'source']);
    backend.log('web', 'hello');
    backend.log('web', 'world');
    expect((await orunctl(['logs', 'web', '--tail', '1'])).stdout).toBe('world\n');
    // A ServiceGraph's: SERVICE or -c, an unknown one named by the server; usage mistakes exit 2.
    backend.set({
      apiVersion: 'run.orcra.dev/v0alpha',
      kind: 'ServiceGraph',
      metadata: { name: 'g' },
      spec: {},
    });
    backend.log('g/db', 'db ready');
    expect(await orunctl(['logs', 'sg/g', 'db'])).toMatchObject({ code: 0, stdout: 'db ready\n' });
    expect(await orunctl(['logs', 'servicegraph/g', '-c', 'db'])).toMatchObject({
      code: 0,
      stdout: 'db ready\n',
    });
    expect(await orunctl(['logs', 'sg/g', 'nope'])).toMatchObject({
      code: 1,
      stderr: 'Error from server (BadRequest): servicegraph "g" has no service "nope"\n',
    });
    for (const [args, message] of [
      [['logs', 'svc/web'], 'error: logs: services have no logs; use deploy/NAME or sg/NAME\n'],
      [
        ['logs', 'deploy/web', 'db'],
        'error: logs deploy/web: a Deployment has one container; SERVICE is for sg/NAME\n',
      ],
      [['logs', 'sg/g', 'db', '-c', 'web'], 'error: logs sg/g: service "db" and -c "web" differ\n'],
    ] as const)
      expect([args, await orunctl([...args])]).toMatchObject([args, { code: 2, stderr: message }]);
    const ev = await orunctl(['events']);
    expect(ev.stdout.split('\n')[0]).toMatch(/^LAST SEEN +TYPE {6}REASON {4}OBJECT {11}MESSAGE$/);
    expect((await orunctl(['version'])).stdout).toMatch(
      /^Client Version: \d+\.\d+\.\d+\S*\nServer Version: 0.0.0-test\n/,
    );
  });
});

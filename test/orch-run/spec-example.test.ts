/**
 * The Orchfile specification's example, unmodified (test/orchfile/fixtures/spec-example.orch),
 * run by `orch up -d` against the real dockerd with postgres, redis and a flyway stand-in built
 * from Debian packages (hack/app-images.sh); an overlay names those images and makes redis's
 * fixed host port an ARG. db-migrate reaches `postgres` by its service name on the project
 * network; its ONESHOT runs once across `down`/`up` (the volume keeps the database).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';
import { requireCommand, requireDocker } from '../support/services.ts';
import { migrations } from '../support/canary.ts';

const ORCH = join(import.meta.dirname, '..', '..', 'dist', 'orch.js');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'canary');
const name = `orun-t-canary-${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'orun-canary-'));

function orch(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [ORCH, ...args, '-p', name], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  requireDocker();
  for (const image of ['orun-test/postgres:1', 'orun-test/redis:1', 'orun-test/flyway:1'])
    requireCommand(`the image ${image} (bash hack/app-images.sh)`, 'docker', ['image', 'inspect', image]);
  requireCommand('pg_isready (postgresql-client)', 'pg_isready', ['--version']);
  requireCommand('redis-cli (redis-tools)', 'redis-cli', ['--version']);
  requireCommand('python (python-is-python3)', 'python', ['--version']);
  cpSync(join(import.meta.dirname, '..', 'orchfile', 'fixtures', 'spec-example.orch'), join(dir, 'Orchfile'));
  cpSync(FIXTURE, dir, { recursive: true, force: false });
});

afterAll(() => {
  spawnSync(process.execPath, [ORCH, 'down', 'Orchfile', 'test.orch', '-p', name], {
    cwd: dir,
    stdio: 'ignore',
  });
  const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=orch.project=${name}`], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
  if (ids.length > 0) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
  spawnSync('docker', ['network', 'rm', `${name}_default`], { stdio: 'ignore' });
  spawnSync('docker', ['volume', 'rm', `${name}_postgres-data`], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
});

describe('the spec example under orch up -d', () => {
  it('runs: service names resolve on the project network, the migration runs once across down/up', async () => {
    const [pg, django, redis] = [await freePort(), await freePort(), await freePort()];
    const args = [
      '--arg',
      `postgres_port=${pg}`,
      '--arg',
      `django_port=${django}`,
      '--arg',
      `redis_port=${redis}`,
    ];
    const up = orch(['up', '-d', 'Orchfile', 'test.orch', ...args]);
    expect(up.stderr).toContain('orch: db-migrate: completed: exited 0');
    expect(up.status, up.stderr).toBe(0);
    const status = orch(['status', 'Orchfile', 'test.orch', ...args]).stdout;
    expect(status).toMatch(/^postgres\s+container\s+running\s+\S+\s+healthy\s+0$/m);
    expect(status).toMatch(/^redis\s+container\s+running\s+\S+\s+healthy\s+0$/m);
    expect(status).toMatch(/^django\s+host\s+running\s+\d+\s+healthy\s+0$/m);
    expect(status).toMatch(/^db-migrate\s+container\s+completed\s+/m);
    expect(migrations(pg)).toBe(1);
    // ENV and ENV_FILE reached the host service.
    expect(await (await fetch(`http://127.0.0.1:${django}/`)).text()).toBe(
      'canary.settings.dev hello-from-env-file\n',
    );
    expect(orch(['logs', 'Orchfile', 'test.orch', 'db-migrate']).stdout).toContain(
      'flyway: migrated canary on postgres',
    );

    expect(orch(['down', 'Orchfile', 'test.orch']).status).toBe(0);
    const again = orch(['up', '-d', 'Orchfile', 'test.orch', ...args]);
    expect(again.stderr).toContain(
      'orch: db-migrate: completed: completed before with this definition; not run again',
    );
    expect(again.status).toBe(0);
    expect(migrations(pg)).toBe(1);
    expect(orch(['down', 'Orchfile', 'test.orch']).status).toBe(0);
  });
});

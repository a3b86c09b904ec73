/**
 * `orch up -d` applies a container service's resource directives, WORKDIR and named VOLUME on the
 * real dockerd (checked with `docker inspect` / `docker exec`), and `orch down` keeps the volume.
 * Own project name (= container prefix, label and volume prefix); cleans up only that.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE, requireTestImage } from '../support/services.ts';

const ORCH = join(import.meta.dirname, '..', '..', 'dist', 'orch.js');
const project = `orun-t-orchlim-${randomBytes(4).toString('hex')}`;
const volume = `${project}_data`;
let dir: string | undefined;

function orch(args: string[], cwd: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [ORCH, ...args], { cwd, encoding: 'utf8', timeout: 90_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function docker(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

function containers(all = true): string[] {
  return docker('ps', ...(all ? ['-a'] : []), '-q', '--filter', `label=orch.project=${project}`)
    .split('\n')
    .filter((l) => l !== '');
}

function volumeExists(): boolean {
  return spawnSync('docker', ['volume', 'inspect', volume], { stdio: 'ignore' }).status === 0;
}

beforeAll(() => {
  requireTestImage();
});

afterAll(() => {
  const ids = containers();
  if (ids.length > 0) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
  if (volumeExists()) execFileSync('docker', ['volume', 'rm', volume], { stdio: 'ignore' });
  spawnSync('docker', ['network', 'rm', `${project}_default`], { stdio: 'ignore' });
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('orch up -d: container limits, WORKDIR and named VOLUME', () => {
  it('applies them to the container, and down removes the container but keeps the volume', () => {
    dir = mkdtempSync(join(tmpdir(), 'orun-orch-limits-'));
    writeFileSync(
      join(dir, 'Orchfile'),
      `
SERVICE box
FROM ${TEST_IMAGE}
MEMORY 96M
CPUS 0.5
LIMIT_NOFILE 2048
LIMIT_NPROC 512
TASKS_MAX 128
IO_WEIGHT 300
WORKDIR /www
VOLUME data:/data
TIMEOUT_STOP 2s
`,
    );
    const up = orch(['up', '-d', 'Orchfile', '-p', project], dir);
    expect(up.stderr).toContain('orch: box: running');
    expect(up.status).toBe(0);
    // Everything is applied now: no "not applied" warning.
    expect(up.stderr).not.toMatch(/not applied/);

    const [id] = containers(false);
    expect(id).toBeDefined();
    const inspected = JSON.parse(docker('inspect', id!)) as {
      Config: { WorkingDir: string };
      HostConfig: {
        Memory: number;
        NanoCpus: number;
        PidsLimit: number;
        BlkioWeight: number;
        Ulimits: { Name: string; Soft: number; Hard: number }[];
      };
      Mounts: { Type: string; Name?: string; Destination: string }[];
    }[];
    const c = inspected[0]!;
    expect(c.Config.WorkingDir).toBe('/www');
    // IO_WEIGHT: applied, or (this repo's cgroup v1 dockerd without CFQ/BFQ) discarded with the
    // engine's warning passed on to orch's output.
    if (c.HostConfig.BlkioWeight !== 300) {
      expect(c.HostConfig.BlkioWeight).toBe(0);
      expect(up.stderr).toMatch(/box: .*Block I\/O weight/);
    }
    expect(c.HostConfig).toMatchObject({ Memory: 96 * 2 ** 20, NanoCpus: 500_000_000, PidsLimit: 128 });
    expect(c.HostConfig.Ulimits).toEqual([
      { Name: 'nofile', Soft: 2048, Hard: 2048 },
      { Name: 'nproc', Soft: 512, Hard: 512 },
    ]);
    expect(c.Mounts).toEqual([
      expect.objectContaining({ Type: 'volume', Name: volume, Destination: '/data' }),
    ]);
    expect(docker('exec', id!, 'sh', '-c', 'pwd; ulimit -n; echo kept > /data/f')).toBe('/www\n2048');
    expect(JSON.parse(docker('volume', 'inspect', volume, '--format', '{{json .Labels}}'))).toEqual({
      'run.orcra.dev/managed-by': 'orch',
      'orch.project': project,
    });

    const down = orch(['down', 'Orchfile', '-p', project], dir);
    expect(down.status).toBe(0);
    expect(containers()).toEqual([]);
    expect(volumeExists()).toBe(true);
    // The data outlives the container (checked from a throwaway container of this test).
    expect(
      docker(
        'run',
        '--rm',
        '--name',
        `${project}-check`,
        '-v',
        `${volume}:/data`,
        TEST_IMAGE,
        'cat',
        '/data/f',
      ),
    ).toBe('kept');
  });
});

/**
 * The real proof: `orun bootstrap` (dist/orun.js) provisions a systemd node in a container over
 * SSH, the agent runs there as orun.service, `nodes/<name>.yaml` is written, and running it again
 * changes nothing. The node gets its own dockerd (support.ts), so its agent is isolated.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeManifestFile } from '../../apis/run.orcra.dev/v0alpha/index.ts';
import { keygen } from '../support/sshd.ts';
import { ROOT, orun, startDockerd, startNode } from './support.ts';
import type { NodeContainer } from './support.ts';

const NAME = 'edge-1';
let root: string;
let node: NodeContainer;
let dockerd: Awaited<ReturnType<typeof startDockerd>>;
let key: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'orun-bs-'));
  key = join(root, 'id_ed25519');
  keygen(key, 'orun-bootstrap-e2e');
  dockerd = await startDockerd(join(root, 'd'));
  node = await startNode({
    dockerSocket: dockerd.socket,
    authorizedKey: readFileSync(`${key}.pub`, 'utf8').trim(),
  });
  // The manifest repository the node tracks, served from the node itself.
  await node.exec(
    'sh',
    '-c',
    'git init -q -b main /tmp/seed && git -C /tmp/seed -c user.name=t -c user.email=t@t commit -q --allow-empty -m init && git clone -q --bare /tmp/seed /srv/manifests.git',
  );
});

afterAll(async () => {
  await node?.remove();
  await dockerd?.stop();
  rmSync(root, { recursive: true, force: true });
});

const args = (...extra: string[]) => [
  'bootstrap', NAME, '--host', node.ip, '--identity', key, '--known-hosts', join(root, 'known_hosts'),
  '--repo', 'file:///srv/manifests.git', '--out', join(root, 'repo'), '--label', 'tier=edge', ...extra,
]; // prettier-ignore

describe('orun bootstrap against a systemd node', () => {
  it('installs orun, starts orun.service and writes nodes/<name>.yaml', async () => {
    const t0 = Date.now();
    const r = await orun(args());
    expect(r.stderr, r.stderr).toContain(`bootstrap: node ${NAME} (root@${node.ip}:22) bootstrapped:`);
    expect(r.code).toBe(0);
    for (const step of [
      'connect',
      'check remote',
      'install node',
      'install orun',
      'create data dir',
      'write environment',
      'install unit',
      'start service',
      'write manifest',
    ])
      expect(r.stderr).toMatch(new RegExp(`^bootstrap: ${step}: `, 'm'));
    console.log(`bootstrap of a fresh node took ${Date.now() - t0} ms`);

    expect((await node.exec('systemctl', 'is-active', 'orun')).trim()).toBe('active');
    expect((await node.exec('systemctl', 'is-enabled', 'orun')).trim()).toBe('enabled');
    expect(await node.exec('orun', '--version')).toMatch(/\d+\.\d+\.\d+/);
    expect(await node.exec('cat', '/etc/default/orun')).toContain(
      `ORUN_NODE=${NAME}\nORUN_REPO=file:///srv/manifests.git\nORUN_BRANCH=main\n`,
    );
    expect(await node.exec('cat', '/etc/systemd/system/orun.service')).toBe(
      readFileSync(join(ROOT, 'config/systemd/orun.service'), 'utf8'),
    );

    const file = join(root, 'repo', 'nodes', `${NAME}.yaml`);
    const { objects, errors } = decodeManifestFile(`nodes/${NAME}.yaml`, readFileSync(file, 'utf8'));
    expect(errors).toEqual([]);
    expect(objects[0]).toMatchObject({
      kind: 'Node',
      metadata: { name: NAME, labels: { tier: 'edge' } },
      spec: {
        host: node.ip,
        user: 'root',
        gitRepo: 'file:///srv/manifests.git',
        gitBranch: 'main',
        dataDir: '/opt/orun/',
      },
    });
  });

  it('a second run changes nothing and says so; a dry run plans nothing', async () => {
    const r = await orun(args());
    expect(r.stderr, r.stderr).toContain(
      `bootstrap: node ${NAME} (root@${node.ip}:22) is up to date: nothing changed`,
    );
    expect(r.code).toBe(0);
    const dry = await orun(args('--dry-run'));
    expect(dry.stderr, dry.stderr).toContain('nothing to change, nothing done');
    expect(dry.code).toBe(0);
  });

  it('repairs only what drifted, and restarts the service', async () => {
    const pidBefore = (await node.exec('systemctl', 'show', '-p', 'MainPID', '--value', 'orun')).trim();
    await node.exec('sh', '-c', 'echo tampered > /usr/local/bin/orunctl');
    const r = await orun(args());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('bootstrap: install orun: update /usr/local/bin/orunctl\n');
    expect(r.stderr).toContain('bootstrap: start service: systemctl restart orun (its files changed)');
    expect(r.stderr).toContain('bootstrapped: 2 changes');
    expect(await node.exec('orunctl', '--help')).toContain('orunctl');
    expect((await node.exec('systemctl', 'show', '-p', 'MainPID', '--value', 'orun')).trim()).not.toBe(
      pidBefore,
    );
  });

  it('refuses to overwrite a different nodes/<name>.yaml without --force, before touching the node', async () => {
    const r = await orun(args('--branch', 'staging'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /bootstrap: write manifest: .*nodes\/edge-1\.yaml exists with other content; pass --force/,
    );
    expect(r.stderr).not.toContain('bootstrap: connect');
    expect(await node.exec('cat', '/etc/default/orun')).toContain('ORUN_BRANCH=main\n');
  });
});

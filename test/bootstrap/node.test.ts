/**
 * The real proof: `orun bootstrap` (dist/orun.js) provisions a systemd node in a container over
 * SSH, the agent runs there as orun.service, `nodes/<name>.yaml` is written, and running it again
 * changes nothing. The node gets its own dockerd (support.ts), so its agent is isolated.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
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

  it('an ssh:// repository gets a deploy key the agent then syncs with', async () => {
    const repo = 'ssh://root@127.0.0.1/srv/manifests.git';
    const r = await orun(args('--repo', repo, '--data-dir', '/opt/orun-ssh/', '--force'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('bootstrap: deploy key: generate /opt/orun-ssh/keys/deploy_key');
    const pub = /read-only deploy key:\n(ssh-ed25519 \S+ orun@edge-1)\n/.exec(r.stdout)?.[1];
    expect(pub, r.stdout).toBeDefined();
    expect(await node.exec('cat', '/etc/default/orun')).toContain(
      `ORUN_SSH_KEY_PATH=/opt/orun-ssh/keys/deploy_key\n`,
    );
    expect(await node.exec('stat', '-c', '%a', '/opt/orun-ssh/keys/deploy_key')).toBe('600\n');
    // The user adds the deploy key to the Git server (here: the node's own sshd); the agent syncs.
    await node.exec('sh', '-c', `printf '%s\\n' "$1" >> /root/.ssh/authorized_keys`, 'sh', pub ?? '');
    await vi.waitFor(
      async () => {
        const journal = await node.exec('journalctl', '-u', 'orun', '-o', 'cat', '--no-pager');
        expect(journal).toMatch(
          /"remote":"ssh:\/\/root@127\.0\.0\.1\/srv\/manifests\.git".*"msg":"checked out new revision"/,
        );
      },
      { timeout: 60_000, interval: 1000 },
    );
    expect(await node.status('test', '-d', '/opt/orun-ssh/repo/.git')).toMatchObject({ code: 0 });
    expect((await orun(args('--repo', repo, '--data-dir', '/opt/orun-ssh/'))).stderr).toContain(
      'nothing changed',
    );
  });
});

describe('orun bootstrap against a node without Docker', () => {
  let bare: NodeContainer;
  beforeAll(async () => {
    bare = await startNode({ authorizedKey: readFileSync(`${key}.pub`, 'utf8').trim() });
  });
  afterAll(async () => {
    await bare?.remove();
  });

  it('says what is missing and installs nothing', async () => {
    const r = await orun([
      'bootstrap', 'bare-1', '--host', bare.ip, '--identity', key, '--known-hosts', join(root, 'known_hosts'),
      '--repo', 'file:///srv/none.git', '--out', join(root, 'repo-bare'),
    ]); // prettier-ignore
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `orun: bootstrap: check remote: root@${bare.ip}:22 (Debian GNU/Linux 12 (bookworm), x86_64, root) lacks what orun needs; nothing was changed:\n  - Docker (no /var/run/docker.sock and no docker command): install Docker Engine, or re-run with --install-docker\n`,
    );
    expect((await bare.status('test', '-e', '/usr/local/lib/orun')).code).not.toBe(0);
    expect((await bare.status('test', '-e', '/etc/default/orun')).code).not.toBe(0);
  });
});

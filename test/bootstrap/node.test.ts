/**
 * The real proof: from a manifest repository on this host, `orun bootstrap nodes/edge-1.yaml
 * --yes` provisions a systemd node in a container over SSH. The node has no Node.js; it gets the
 * single executable, git (removed from the node first) and Caddy through apt (a local file
 * repository, hack/node-debs.sh, so apt works offline), its keys and orun.service; bootstrap
 * waits for the first sync and prints `orunctl get all`. Running it again says `unchanged`; a newer build says `upgraded A → B` and
 * leaves every container as it was. A commit then changes the app. Failures (apt cannot install
 * Caddy, an unreachable host) name the step and leave nothing behind. The node's dockerd is an
 * isolated one on this host (support.ts), so its agent never sees other tests' containers.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/agent.ts';
import { freePort } from '../support/net.ts';
import { buildSeaVersion, ensureSea } from '../support/sea.ts';
import { TEST_IMAGE, MissingServiceError, requireTestImage } from '../support/services.ts';
import { keygen } from '../support/sshd.ts';
import { docker, orun, startDockerd, startNode } from './support.ts';
import type { NodeContainer } from './support.ts';

const NAME = 'edge-1';
const DEBS = process.env.ORUN_NODE_DEBS ?? '/var/cache/orun-test/node-debs';
let root: string;
let repo: string;
let node: NodeContainer;
let dockerd: Awaited<ReturnType<typeof startDockerd>>;
let key: string;
let kh: string;

const git = (...args: string[]) =>
  execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_SSH_COMMAND: `ssh -i ${key} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`,
    },
  });
const nodeDocker = (...args: string[]) => docker('-H', `unix://${dockerd.socket}`, ...args);
const webContainer = async () => {
  const out = await nodeDocker('ps', '-q', '--filter', 'name=web', '--filter', 'label=run.orcra.dev/node');
  const id = out.trim().split('\n')[0];
  if (!id) return undefined;
  // Replaced between ps and inspect: ask again.
  const inspected = await nodeDocker('inspect', '-f', '{{.State.StartedAt}} {{json .Config.Env}}', id).catch(
    () => undefined,
  );
  if (inspected === undefined) return undefined;
  const [startedAt, env] = inspected.split(' ');
  return { id, startedAt, env: env ?? '' };
};

function deployment(greeting: string): string {
  return [
    'apiVersion: run.orcra.dev/v0alpha',
    'kind: Deployment',
    'metadata: {name: web}',
    `spec: {image: ${TEST_IMAGE}, env: {GREETING: ${greeting}}}`,
    '',
  ].join('\n');
}

beforeAll(async () => {
  requireTestImage();
  if (!existsSync(join(DEBS, 'Packages')))
    throw new MissingServiceError('the local apt repository for the node', 'run: bash hack/node-debs.sh');
  ensureSea();
  root = mkdtempSync(join(tmpdir(), 'orun-bs-'));
  key = join(root, 'id_ed25519');
  kh = join(root, 'known_hosts');
  keygen(key, 'orun-bootstrap-e2e');
  dockerd = await startDockerd(join(root, 'd'));
  execFileSync('sh', ['-c', `docker save ${TEST_IMAGE} | docker -H unix://${dockerd.socket} load -q`]);
  node = await startNode({
    dockerSocket: dockerd.socket,
    authorizedKey: readFileSync(`${key}.pub`, 'utf8').trim(),
    mounts: [`${DEBS}:/srv/debs:ro`],
  });
  // apt on the node reads only the local repository: offline, and quick.
  await node.exec('sh', '-c', "echo 'deb [trusted=yes] file:/srv/debs ./' > /etc/apt/sources.list");
  // The manifest repository on this host, pushed to a bare one on the node that the agent tracks.
  repo = join(root, 'repo');
  mkdirSync(join(repo, 'nodes'), { recursive: true });
  mkdirSync(join(repo, 'deployments'));
  writeFileSync(
    join(repo, 'nodes', `${NAME}.yaml`),
    [
      '# edge-1: the node of the bootstrap e2e',
      'apiVersion: run.orcra.dev/v0alpha',
      'kind: Node',
      `metadata: {name: ${NAME}, labels: {tier: edge}}`,
      'spec:',
      `  host: ${node.ip}`,
      `  sshKeyPath: ${key}`,
      '  gitRepo: file:///srv/manifests.git',
      '',
    ].join('\n'),
  );
  writeFileSync(join(repo, 'deployments', 'web.yaml'), deployment('hello'));
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'edge-1 and web');
  await node.exec('git', 'init', '-q', '--bare', '-b', 'main', '/srv/manifests.git');
  git('push', '-q', `ssh://root@${node.ip}/srv/manifests.git`, 'main');
  // A node without git (the package only; what it depends on stays): bootstrap must install it,
  // or the agent could not sync (hack/node-debs.sh puts git's .deb in the local repository).
  await node.exec('dpkg', '-r', 'git');
});

afterAll(async () => {
  await node?.remove();
  await dockerd?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

const bootstrapArgs = () => ['bootstrap', join(repo, 'nodes', `${NAME}.yaml`), '--yes', '--known-hosts', kh];

describe('orun bootstrap nodes/edge-1.yaml against a systemd node', () => {
  it('installs the single executable, git and Caddy, the keys and the unit; waits for the first sync', async () => {
    const t0 = Date.now();
    const r = await orun(bootstrapArgs());
    const ms = Date.now() - t0;
    expect(r.code, r.stderr).toBe(0);
    for (const step of [
      'connect',
      'check remote',
      'install docker',
      'install packages',
      'install orun',
      'create data dir',
      'deploy key',
      'age key',
      'write environment',
      'install unit',
      'kernel settings',
      'start service',
      'first sync',
      'write manifest',
    ])
      // prettier-ignore
      expect(r.stderr).toMatch(new RegExp(`^bootstrap: ${step}: `, 'm'));
    expect(r.stderr).toContain(
      'bootstrap: install packages: apt-get install git caddy; systemctl disable --now caddy (orun runs its own Caddy)\n',
    );
    expect(r.stderr).toMatch(
      /^bootstrap: install orun: write \/usr\/local\/bin\/orun; .*\(installed \S+\)$/m,
    );
    expect(r.stderr).toMatch(/^bootstrap: first sync: ok \(main@sha1:[0-9a-f]+, Ready=True\)$/m);
    // The hand-written manifest (its comment too) is kept: it says what the request says.
    expect(r.stderr).toMatch(/^bootstrap: write manifest: ok \(.*edge-1\.yaml unchanged\)$/m);
    expect(readFileSync(join(repo, 'nodes', `${NAME}.yaml`), 'utf8')).toMatch(/^# edge-1: the node/);
    expect(r.stdout).toMatch(/^Age key of node edge-1: add this recipient to \.sops\.yaml:\nage1\w+$/m);
    expect(r.stdout).toMatch(/^\$ orunctl get all {3}# on edge-1\nNAME +READY +STATUS/m);
    expect(r.stdout).toMatch(/^deployment\/web /m);
    expect(r.stderr).toMatch(/bootstrapped: \d+ changes; orun installed \S+$/m);
    console.log(`bootstrap of a fresh node to its first sync: ${ms} ms`);

    expect((await node.status('sh', '-c', 'command -v node')).code).not.toBe(0);
    expect((await node.exec('sh', '-c', 'command -v git')).trim()).toBe('/usr/bin/git');
    expect((await node.exec('systemctl', 'is-active', 'orun')).trim()).toBe('active');
    expect((await node.status('systemctl', 'is-enabled', 'caddy')).stdout.trim()).toBe('disabled');
    expect(await node.exec('readlink', '/usr/local/bin/orunctl')).toBe('orun\n');
    expect(await node.exec('cat', '/etc/sysctl.d/60-orun.conf')).toMatch(/^net\.ipv4\.tcp_migrate_req = 1$/m);
    // Only what the agent needs to find its repository and keys: the branch lives in Git.
    expect(await node.exec('cat', '/etc/default/orun')).toBe(
      '# Written by `orun bootstrap edge-1`; re-run it to change. Read by orun.service (orun start).\n' +
        'ORUN_NODE=edge-1\nORUN_REPO=file:///srv/manifests.git\nORUN_DATA_DIR=/opt/orun/\n',
    );
    expect(await node.exec('stat', '-c', '%a', '/opt/orun/keys/age.key')).toBe('600\n');
    await waitFor('the web container', webContainer, 60_000);
  });

  it('a second run changes nothing and says unchanged', async () => {
    const r = await orun(bootstrapArgs());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/is up to date: nothing changed; orun unchanged \S+$/m);
  });

  it('a newer build upgrades: upgraded A → B, orun restarted, every container as it was', async () => {
    const before = await waitFor('the web container', webContainer, 60_000);
    const pid = (await node.exec('systemctl', 'show', '-p', 'MainPID', '--value', 'orun')).trim();
    const old = (await node.exec('orun', '--version')).trim();
    // The newer executable bootstraps with itself: it is what it installs.
    const exe = buildSeaVersion(join(root, 'next'), '0.1.0-e2e-next');
    const r = await orun(bootstrapArgs(), 180_000, exe);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `bootstrap: install orun: update /usr/local/bin/orun (upgraded ${old} → 0.1.0-e2e-next)`,
    );
    expect(r.stderr).toContain('bootstrap: start service: systemctl restart orun (its files changed)');
    expect(r.stderr).toMatch(
      new RegExp(`orun upgraded ${old.replace(/[+.]/g, '\\$&')} → 0\\.1\\.0-e2e-next$`, 'm'),
    );
    expect((await node.exec('orun', '--version')).trim()).toBe('0.1.0-e2e-next');
    expect((await node.exec('systemctl', 'show', '-p', 'MainPID', '--value', 'orun')).trim()).not.toBe(pid);
    expect(await webContainer()).toEqual(before);
  });

  it('a commit changes the app; the node runs the new version', async () => {
    const before = await waitFor('the web container', webContainer, 60_000);
    writeFileSync(join(repo, 'deployments', 'web.yaml'), deployment('bonjour'));
    git('commit', '-qam', 'web says bonjour');
    git('push', '-q', `ssh://root@${node.ip}/srv/manifests.git`, 'main');
    const after = await waitFor(
      'the web container with GREETING=bonjour',
      async () => {
        const c = await webContainer();
        return c?.env.includes('GREETING=bonjour') ? c : undefined;
      },
      90_000,
    );
    expect(after.id).not.toBe(before.id);
  });
  it('a commit to gitBranch moves the node to that branch (nothing pins it on the node)', async () => {
    const text = readFileSync(join(repo, 'nodes', `${NAME}.yaml`), 'utf8');
    writeFileSync(
      join(repo, 'nodes', `${NAME}.yaml`),
      text.replace('  gitRepo:', '  gitBranch: staging\n  gitRepo:'),
    );
    git('commit', '-qam', 'edge-1 tracks staging');
    git('push', '-q', `ssh://root@${node.ip}/srv/manifests.git`, 'main', 'main:staging');
    const status = await waitFor(
      'the node on staging',
      async () => {
        const r = await node.status(
          'orunctl',
          '--socket',
          '/opt/orun/orun.sock',
          'get',
          'node',
          NAME,
          '-o',
          'json',
        );
        if (r.code !== 0) return undefined;
        const s = (
          JSON.parse(r.stdout) as { status?: { branch?: string; environment?: string; revision?: string } }
        ).status;
        return s?.branch === 'staging' ? s : undefined;
      },
      90_000,
    );
    expect(status.environment).toBe('staging');
    expect(status.revision).toMatch(/^staging@sha1:/);
    expect(await node.exec('cat', '/etc/default/orun')).not.toContain('BRANCH');
  });
});

describe('orun bootstrap failures leave nothing behind', () => {
  it('a node where apt cannot install Caddy fails install packages; nothing of orun is written', async () => {
    const bare = await startNode({
      dockerSocket: dockerd.socket,
      authorizedKey: readFileSync(`${key}.pub`, 'utf8').trim(),
    });
    try {
      await bare.exec('sh', '-c', "echo 'deb [trusted=yes] file:/srv/none ./' > /etc/apt/sources.list");
      const r = await orun([
        'bootstrap', 'bare-1', '--host', bare.ip, '--identity', key, '--known-hosts', kh,
        '--repo', 'file:///srv/none.git', '--out', join(root, 'repo-bare'), '--yes',
      ]); // prettier-ignore
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^orun: bootstrap: install packages: apt-get could not install caddy \(exit 100\); make them installable/m,
      );
      for (const path of [
        '/usr/local/bin/orun',
        '/etc/default/orun',
        '/etc/systemd/system/orun.service',
        '/opt/orun',
      ])
        expect((await bare.status('test', '-e', path)).code, path).not.toBe(0);
      expect(existsSync(join(root, 'repo-bare', 'nodes', 'bare-1.yaml'))).toBe(false);
    } finally {
      await bare.remove();
    }
  });

  it('an unreachable host fails the connect step', async () => {
    const port = await freePort();
    const r = await orun([
      'bootstrap', 'gone-1', '--host', '127.0.0.1', '--port', String(port), '--identity', key,
      '--known-hosts', kh, '--repo', 'file:///srv/none.git', '--out', join(root, 'repo-gone'), '--yes',
    ]); // prettier-ignore
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^orun: bootstrap: connect: .*127\.0\.0\.1/m);
    expect(existsSync(join(root, 'repo-gone'))).toBe(false);
  });
});

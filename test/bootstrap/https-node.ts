/**
 * A prepared node for "bootstrap to HTTPS" (the e2e test and bench/bootstrap-https.ts): a fresh
 * systemd node container (no Node.js) with its own isolated dockerd holding a real app image
 * (orun-test/nginx:1), apt pointed at the local repository of hack/node-debs.sh, and pebble as the
 * ACME CA on the node's gateway address (challtestsrv answers every name with the node's address,
 * so pebble validates HTTP-01 against the node's Caddy on :80). The node's orun.service gets the
 * CA through a systemd drop-in (`/etc/systemd/system/orun.service.d/acme.conf`), the documented way
 * to point a node at another ACME CA; bootstrap leaves drop-ins alone. The manifest repository on
 * this host holds the Node, a Deployment `web` (nginx) and a Service `web` with `ssl: true` (on
 * `web.<node>.test`, and `<branch>.web.<node>.test` off main), and is
 * pushed to a bare repository on the node that the agent tracks.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpsGet, type Answer } from '../support/http.ts';
import { startPebble, type Pebble } from '../support/pebble.ts';
import { APP_IMAGES, MissingServiceError, requireAppImage } from '../support/services.ts';
import { keygen } from '../support/sshd.ts';
import { docker, startDockerd, startNode, type NodeContainer } from './support.ts';

export const DEBS = process.env.ORUN_NODE_DEBS ?? '/var/cache/orun-test/node-debs';

export interface HttpsNode {
  root: string;
  /** The manifest repository on this host and its Node manifest (`nodes/<name>.yaml`). */
  repo: string;
  manifest: string;
  name: string;
  /** The Service's domain. */
  domain: string;
  key: string;
  knownHosts: string;
  node: NodeContainer;
  pebble: Pebble;
  /** `docker -H <the node's engine> ...args`. */
  nodeDocker(...args: string[]): Promise<string>;
  /** `bootstrap nodes/<name>.yaml --yes --known-hosts …`. */
  bootstrapArgs(): string[];
  /** An HTTPS GET to the node's :443 as `domain` (default: the Service's), verified against pebble's root only. */
  get(domain?: string): Promise<Answer>;
  /** `git …` in the manifest repository (commit as t@t; pushes over SSH with the test key). */
  git(...args: string[]): string;
  cleanup(): Promise<void>;
}

/** A 10.N.0.0/16 that no host route uses: the node engine's networks must not shadow docker0's. */
function freeAddressPool(): string {
  const routes = execFileSync('ip', ['route'], { encoding: 'utf8' });
  for (let i = 0; i < 100; i++) {
    const n = 100 + ((randomBytes(1)[0] ?? 0) % 100);
    if (!routes.includes(`10.${n}.`)) return `base=10.${n}.0.0/16,size=24`;
  }
  throw new Error('no free 10.N.0.0/16 for the node engine');
}

export async function prepareHttpsNode(name: string): Promise<HttpsNode> {
  requireAppImage(APP_IMAGES.nginx);
  if (!existsSync(join(DEBS, 'Packages')))
    throw new MissingServiceError('the local apt repository for the node', 'run: bash hack/node-debs.sh');
  const root = mkdtempSync(join(tmpdir(), 'orun-bs-https-'));
  const key = join(root, 'id_ed25519');
  const knownHosts = join(root, 'known_hosts');
  const domain = `web.${name}.test`;
  let dockerd: Awaited<ReturnType<typeof startDockerd>> | undefined;
  let node: NodeContainer | undefined;
  let pebble: Pebble | undefined;
  const cleanup = async () => {
    await node?.remove();
    await dockerd?.stop();
    await pebble?.stop();
    rmSync(root, { recursive: true, force: true });
  };
  try {
    keygen(key, `orun-${name}`);
    dockerd = await startDockerd(join(root, 'd'), ['--default-address-pool', freeAddressPool()]);
    const socket = dockerd.socket;
    const nodeDocker = (...args: string[]) => docker('-H', `unix://${socket}`, ...args);
    execFileSync('sh', ['-c', `docker save ${APP_IMAGES.nginx} | docker -H unix://${socket} load -q`]);
    node = await startNode({
      dockerSocket: socket,
      authorizedKey: readFileSync(`${key}.pub`, 'utf8').trim(),
      mounts: [`${DEBS}:/srv/debs:ro`],
    });
    const n = node;
    await n.exec('sh', '-c', "echo 'deb [trusted=yes] file:/srv/debs ./' > /etc/apt/sources.list");
    const gateway = (await docker('inspect', '-f', '{{.NetworkSettings.Gateway}}', n.name)).trim();
    pebble = await startPebble({ httpPort: 80, tlsPort: 443, listenHost: gateway, defaultIPv4: n.ip });
    await docker('cp', pebble.listenerCertFile, `${n.name}:/etc/ssl/pebble-listener.pem`);
    await n.exec(
      'sh',
      '-c',
      'mkdir -p /etc/systemd/system/orun.service.d && printf "%s\\n" "$@" > /etc/systemd/system/orun.service.d/acme.conf',
      'sh',
      '# Test CA: pebble on the host (test/bootstrap/https-node.ts).',
      '[Service]',
      `Environment=ORUN_ACME_CA=${pebble.directoryURL}`,
      'Environment=ORUN_ACME_CA_ROOT=/etc/ssl/pebble-listener.pem',
    );

    const repo = join(root, 'repo');
    const env = {
      ...process.env,
      GIT_SSH_COMMAND: `ssh -i ${key} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`,
    };
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
        encoding: 'utf8',
        env,
      });
    const files: Record<string, string> = {
      [`nodes/${name}.yaml`]: [
        'apiVersion: run.orcra.dev/v0alpha',
        'kind: Node',
        `metadata: {name: ${name}}`,
        'spec:',
        `  host: ${n.ip}`,
        `  sshKeyPath: ${key}`,
        '  gitRepo: file:///srv/manifests.git',
        '',
      ].join('\n'),
      'deployments/web.yaml': [
        'apiVersion: run.orcra.dev/v0alpha',
        'kind: Deployment',
        'metadata: {name: web}',
        'spec:',
        `  image: ${APP_IMAGES.nginx}`,
        '  ports: [{containerPort: 80}]',
        '  health: {readiness: {http: "localhost:80/health", periodSeconds: 1}}',
        '',
      ].join('\n'),
      'services/web.yaml': [
        'apiVersion: run.orcra.dev/v0alpha',
        'kind: Service',
        'metadata: {name: web}',
        'spec:',
        '  deployment: web',
        `  ingress: {domain: {default: ${domain}, environment: $ENV.${domain}}, ssl: true}`,
        '',
      ].join('\n'),
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(repo, path, '..'), { recursive: true });
      writeFileSync(join(repo, path), text);
    }
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-qm', `${name}: nginx behind HTTPS`);
    await n.exec('git', 'init', '-q', '--bare', '-b', 'main', '/srv/manifests.git');
    git('push', '-q', `ssh://root@${n.ip}/srv/manifests.git`, 'main');

    const p = pebble;
    return {
      root,
      repo,
      manifest: join(repo, 'nodes', `${name}.yaml`),
      name,
      domain,
      key,
      knownHosts,
      node: n,
      pebble: p,
      nodeDocker,
      bootstrapArgs: () => [
        'bootstrap',
        join(repo, 'nodes', `${name}.yaml`),
        '--yes',
        '--known-hosts',
        knownHosts,
      ],
      get: (d = domain) => httpsGet(443, d, p.rootPem, n.ip),
      git,
      cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

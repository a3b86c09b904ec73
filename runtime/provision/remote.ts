/**
 * The node side of `orun bootstrap`: where things go, the read-only probe of the node, and the
 * files written there. Pure functions; steps.ts runs them over SSH.
 */
import { shellQuote } from '../ssh/quote.ts';
import type { BootstrapRequest } from './request.ts';
import { isSshRepo } from './request.ts';

/** Where orun lives on a node. */
export const REMOTE = {
  libDir: '/usr/local/lib/orun',
  /** The Node.js binary bootstrap uploads when the node has none ≥ 22. */
  node: '/usr/local/lib/orun/node',
  orunJs: '/usr/local/lib/orun/orun.js',
  orunctlJs: '/usr/local/lib/orun/orunctl.js',
  orunBin: '/usr/local/bin/orun',
  orunctlBin: '/usr/local/bin/orunctl',
  environment: '/etc/default/orun',
  unit: '/etc/systemd/system/orun.service',
  service: 'orun',
} as const;

/** The Node.js major version the bundles need (commander 15, vitest-era syntax). */
export const MIN_NODE_MAJOR = 22;

/** The deploy key for ssh:// manifest repositories, under the data dir. */
export function deployKeyPath(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, '')}/keys/deploy_key`;
}

/**
 * Read-only probe run with `sh -c`: one `key=value` per line. A constant: nothing from the
 * request is pasted into it.
 */
export const FACTS_SCRIPT = [
  '. /etc/os-release 2>/dev/null',
  'echo "os=${ID:-unknown}"',
  'echo "os_like=${ID_LIKE:-}"',
  'echo "os_name=${PRETTY_NAME:-unknown}"',
  'echo "kernel=$(uname -s)"',
  'echo "arch=$(uname -m)"',
  'echo "uid=$(id -u)"',
  'if [ -d /run/systemd/system ]; then echo systemd=running; else echo systemd=absent; fi',
  'echo "systemctl=$(command -v systemctl)"',
  'echo "docker_cli=$(command -v docker)"',
  'if [ -S /var/run/docker.sock ]; then echo docker_socket=yes; else echo docker_socket=no; fi',
  'echo "node=$(command -v node)"',
  'echo "node_version=$(node --version 2>/dev/null)"',
  'echo "ssh_keygen=$(command -v ssh-keygen)"',
  'echo "sha256sum=$(command -v sha256sum)"',
  'if [ "$(id -u)" != 0 ]; then if sudo -n true 2>/dev/null; then echo sudo=yes; else echo sudo=no; fi; fi',
].join('\n');

export interface RemoteFacts {
  os: string;
  osLike: string;
  osName: string;
  kernel: string;
  /** `uname -m`: x86_64, aarch64, ... */
  arch: string;
  uid: number;
  systemdRunning: boolean;
  systemctl: string;
  dockerCli: string;
  dockerSocket: boolean;
  /** Path of `node` on PATH, or ''. */
  node: string;
  /** `v22.1.0`, or ''. */
  nodeVersion: string;
  sshKeygen: string;
  sha256sum: string;
  /** Passwordless sudo works (only probed for non-root users). */
  sudo: boolean;
}

export function parseFacts(stdout: string): RemoteFacts {
  const kv = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) kv.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const get = (k: string) => kv.get(k) ?? '';
  return {
    os: get('os'),
    osLike: get('os_like'),
    osName: get('os_name'),
    kernel: get('kernel'),
    arch: get('arch'),
    uid: Number.parseInt(get('uid') || '-1', 10),
    systemdRunning: get('systemd') === 'running',
    systemctl: get('systemctl'),
    dockerCli: get('docker_cli'),
    dockerSocket: get('docker_socket') === 'yes',
    node: get('node'),
    nodeVersion: get('node_version'),
    sshKeygen: get('ssh_keygen'),
    sha256sum: get('sha256sum'),
    sudo: get('sudo') === 'yes',
  };
}

export function hasDocker(f: RemoteFacts): boolean {
  return f.dockerSocket || f.dockerCli !== '';
}

export function isDebianLike(f: RemoteFacts): boolean {
  return f.os === 'debian' || f.os === 'ubuntu' || /\bdebian\b/.test(f.osLike);
}

/**
 * What the node lacks that bootstrap will not install, each with its fix. Empty when ready.
 * Docker counts as present when `willInstallDocker` (the `--install-docker` step adds it).
 */
export function missingPrerequisites(f: RemoteFacts, req: BootstrapRequest): string[] {
  const out: string[] = [];
  if (f.kernel !== 'Linux') out.push(`a Linux kernel (uname -s says ${f.kernel || 'nothing'})`);
  if (!f.systemdRunning || f.systemctl === '')
    out.push('systemd as the init system (/run/systemd/system is missing): orun runs as a systemd service');
  if (!hasDocker(f)) {
    if (!req.installDocker)
      out.push(
        'Docker (no /var/run/docker.sock and no docker command): install Docker Engine' +
          (isDebianLike(f) ? ', or re-run with --install-docker' : ''),
      );
    else if (!isDebianLike(f))
      out.push(
        `Docker: --install-docker only knows Debian and Ubuntu, this is ${f.osName}; install Docker Engine`,
      );
  }
  if (f.uid !== 0 && !f.sudo) out.push(`root: log in as root or give ${req.user} passwordless sudo`);
  if (f.sha256sum === '') out.push('sha256sum (GNU coreutils)');
  if (isSshRepo(req.repo) && f.sshKeygen === '')
    out.push('ssh-keygen (package openssh-client) to make the deploy key for the ssh:// repository');
  return out;
}

/** Major version of `v22.1.0`, or undefined. */
export function nodeMajor(version: string): number | undefined {
  const m = /^v(\d+)\./.exec(version);
  return m ? Number(m[1]) : undefined;
}

/** `uname -m` for a Node.js `process.arch`, or undefined when bootstrap does not map it. */
export function unameArch(nodeArch: string): string | undefined {
  return { x64: 'x86_64', arm64: 'aarch64', arm: 'armv7l', ppc64: 'ppc64le', s390x: 's390x' }[nodeArch];
}

/** `/usr/local/bin/orun`: runs the bundle with the chosen Node.js. */
export function renderLauncher(nodePath: string, bundle: string): string {
  return [
    '#!/bin/sh',
    '# Installed by `orun bootstrap`; re-run it to update.',
    `exec ${shellQuote(nodePath)} ${shellQuote(bundle)} "$@"`,
    '',
  ].join('\n');
}

/**
 * `/etc/default/orun`, the unit's EnvironmentFile: what the agent needs before it can read its
 * Node manifest (where the repository is, which branch, its own name, the data dir, the deploy
 * key). pollInterval stays in the manifest: a value here would pin it against Git.
 * Values are shell-quoted, which both systemd and `sh` read back verbatim.
 */
export function renderEnvironment(req: BootstrapRequest): string {
  const vars: [string, string][] = [
    ['ORUN_NODE', req.name],
    ['ORUN_REPO', req.repo],
    ['ORUN_BRANCH', req.branch],
    ['ORUN_DATA_DIR', req.dataDir],
  ];
  if (isSshRepo(req.repo)) vars.push(['ORUN_SSH_KEY_PATH', deployKeyPath(req.dataDir)]);
  return [
    `# Written by \`orun bootstrap ${req.name}\`; re-run it to change. Read by orun.service (orun start).`,
    ...vars.map(([k, v]) => `${k}=${shellQuote(v)}`),
    '',
  ].join('\n');
}

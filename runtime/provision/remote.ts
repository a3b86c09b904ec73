/**
 * The node side of `orun bootstrap`: where things go, the read-only probe of the node, and the
 * files written there. Pure functions; steps.ts runs them over SSH.
 */
import { shellQuote } from '../ssh/quote.ts';
import type { BootstrapRequest } from './request.ts';
import { isSshRepo } from './request.ts';

/** Where orun lives on a node. */
export const REMOTE = {
  /** The single executable (orun; orunctl and orch are links to it). */
  orunBin: '/usr/local/bin/orun',
  links: ['/usr/local/bin/orunctl', '/usr/local/bin/orch'],
  /** Where bootstrap put the bundles and a Node.js before the single executable; removed. */
  legacyLibDir: '/usr/local/lib/orun',
  environment: '/etc/default/orun',
  unit: '/etc/systemd/system/orun.service',
  service: 'orun',
  /** Kernel settings for the ingress, applied by systemd-sysctl at every boot. */
  sysctl: '/etc/sysctl.d/60-orun.conf',
} as const;

/**
 * `net.ipv4.tcp_migrate_req=1` (Linux >= 5.14): a connection queued on a closing SO_REUSEPORT
 * listener moves to the new one instead of being reset, so a Caddy config load (which rebinds
 * its listeners) drops nothing. Older kernels ignore the file's line (`sysctl -e`).
 */
export const SYSCTL_CONF =
  '# Written by `orun bootstrap`. Each Caddy config load rebinds its SO_REUSEPORT listeners;\n' +
  '# with this, a connection queued on the closing one moves to the new one instead of being reset.\n' +
  'net.ipv4.tcp_migrate_req = 1\n';

/** Debian packages the agent needs on the node, by the command that shows they are there. */
export const PACKAGES = [
  { command: 'git', package: 'git', why: 'the agent clones and polls the manifest repository' },
  { command: 'caddy', package: 'caddy', why: "the agent's ingress (Services, HTTPS certificates)" },
] as const;

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
  'echo "git=$(command -v git)"',
  'echo "caddy=$(command -v caddy)"',
  'echo "apt_get=$(command -v apt-get)"',
  'echo "orun_version=$(/usr/local/bin/orun --version 2>/dev/null | head -n 1)"',
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
  /** Paths on PATH, or ''. */
  git: string;
  caddy: string;
  aptGet: string;
  /** `orun --version` of the installed orun, or '' (none). */
  orunVersion: string;
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
    git: get('git'),
    caddy: get('caddy'),
    aptGet: get('apt_get'),
    orunVersion: get('orun_version'),
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
  const packages = missingPackages(f);
  if (packages.length > 0 && !canApt(f))
    out.push(
      ...packages.map(
        (p) =>
          `${p.command} (${p.why}): install it; bootstrap installs it with apt-get only on Debian and Ubuntu, this is ${f.osName}`,
      ),
    );
  if (f.uid !== 0 && !f.sudo) out.push(`root: log in as root or give ${req.user} passwordless sudo`);
  if (f.sha256sum === '') out.push('sha256sum (GNU coreutils)');
  if (isSshRepo(req.repo) && f.sshKeygen === '')
    out.push('ssh-keygen (package openssh-client) to make the deploy key for the ssh:// repository');
  return out;
}

/** The packages of PACKAGES the node lacks. */
export function missingPackages(f: RemoteFacts): (typeof PACKAGES)[number][] {
  return PACKAGES.filter((p) => (p.command === 'git' ? f.git : f.caddy) === '');
}

export function canApt(f: RemoteFacts): boolean {
  return isDebianLike(f) && f.aptGet !== '';
}

/** The age key SOPS files are decrypted with on the node (what the agent looks for last). */
export function ageKeyPath(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, '')}/keys/age.key`;
}

/** Node.js's name (`process.arch`) for a `uname -m`, as in dist/orun-linux-<arch>. */
export function nodeArch(uname: string): string | undefined {
  return { x86_64: 'x64', amd64: 'x64', aarch64: 'arm64', arm64: 'arm64' }[uname];
}

/** `uname -m` for a Node.js `process.arch`, or undefined when bootstrap does not map it. */
export function unameArch(nodeArch: string): string | undefined {
  return { x64: 'x86_64', arm64: 'aarch64', arm: 'armv7l', ppc64: 'ppc64le', s390x: 's390x' }[nodeArch];
}

/**
 * `/etc/default/orun`, the unit's EnvironmentFile: only what the agent needs before it can read
 * its Node manifest: its own name, where the repository is, the data dir and the deploy key.
 * Branch and poll interval stay in `nodes/<name>.yaml` (a value here would pin them against
 * Git): the agent starts on the default branch and moves to the manifest's gitBranch before
 * reconciling anything. Values are shell-quoted, which systemd and `sh` read back verbatim.
 */
export function renderEnvironment(req: BootstrapRequest): string {
  const vars: [string, string][] = [
    ['ORUN_NODE', req.name],
    ['ORUN_REPO', req.repo],
    ['ORUN_DATA_DIR', req.dataDir],
  ];
  if (isSshRepo(req.repo)) vars.push(['ORUN_SSH_KEY_PATH', deployKeyPath(req.dataDir)]);
  return [
    `# Written by \`orun bootstrap ${req.name}\`; re-run it to change. Read by orun.service (orun start).`,
    ...vars.map(([k, v]) => `${k}=${shellQuote(v)}`),
    '',
  ].join('\n');
}

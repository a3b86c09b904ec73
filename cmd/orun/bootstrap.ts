import { isAbsolute, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { findAssets } from '../../runtime/provision/index.ts';
import { bootstrap, checkRequest, parseLabel } from '../../runtime/provision/index.ts';
import type { BootstrapRequest } from '../../runtime/provision/index.ts';

interface BootstrapFlags {
  host: string;
  user: string;
  port: number;
  identity: string;
  knownHosts: string;
  repo: string;
  branch: string;
  pollInterval: string;
  dataDir: string;
  codeDir?: string;
  label: [string, string][];
  out: string;
  dryRun?: boolean;
  force?: boolean;
  installDocker?: boolean;
}

/**
 * `orun bootstrap NAME --host H --repo URL`: provision a node over SSH and write
 * `nodes/<NAME>.yaml` (flags → request → runtime/provision).
 */
export function bootstrapCommand(): Command {
  return new Command('bootstrap')
    .description(
      'provision a node over SSH: install orun, write its Node manifest and start the systemd unit',
    )
    .argument('<NAME>', 'node name: metadata.name of nodes/<NAME>.yaml (DNS-1123)')
    .requiredOption('--host <host>', 'host name or IP address of the node')
    .option('--user <user>', 'SSH user (root, or one with passwordless sudo)', 'root')
    .option('--port <port>', 'SSH port', parsePort, 22)
    .option(
      '--identity <file>',
      'private key for SSH (also tried: ssh-agent via SSH_AUTH_SOCK)',
      '~/.ssh/id_ed25519',
    )
    .option(
      '--known-hosts <file>',
      'known_hosts: unknown hosts are recorded, changed keys refused',
      '~/.ssh/known_hosts',
    )
    .requiredOption('--repo <url>', 'manifest repository the node tracks (its gitRepo)')
    .option('--branch <name>', 'branch to track (main is production)', 'main')
    .option('--poll-interval <duration>', 'how often the node polls the repository', '5s')
    .option('--data-dir <dir>', 'state directory on the node', '/opt/orun/')
    .option('--code-dir <dir>', 'directory build contexts resolve under on the node (default: none)')
    .option('--label <key=value>', 'a Node label (repeatable)', collectLabel, [])
    .option('--out <dir>', 'local manifest repository to write nodes/<NAME>.yaml into', '.')
    .option('--dry-run', 'connect and read the node, print what would change, change nothing')
    .option('--force', 'overwrite an existing, different nodes/<NAME>.yaml')
    .addOption(
      new Option('--install-docker', 'apt-get install docker.io when Docker is missing (Debian/Ubuntu)'),
    )
    .action(async (name: string, flags: BootstrapFlags) => {
      const req = toRequest(name, flags, process.env);
      checkRequest(req);
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        // ssh2 only for this command: loading it costs every other command (and the agent) 16 MiB.
        const { Ssh2Connector } = await import('../../runtime/ssh/ssh2-client.ts');
        const result = await bootstrap(req, {
          connector: new Ssh2Connector(),
          assets: findAssets(),
          log: (line) => process.stderr.write(`${line}\n`),
          print: (text) => process.stdout.write(text),
          signal: ac.signal,
        });
        if (result.problems.length > 0) process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

export function toRequest(name: string, f: BootstrapFlags, env: NodeJS.ProcessEnv): BootstrapRequest {
  const absolute = (p: string) => (p.startsWith('~/') || isAbsolute(p) ? p : resolve(p));
  return {
    name,
    host: f.host,
    user: f.user,
    port: f.port,
    identity: absolute(f.identity),
    knownHosts: absolute(f.knownHosts),
    ...(env.SSH_AUTH_SOCK ? { agent: env.SSH_AUTH_SOCK } : {}),
    repo: f.repo,
    branch: f.branch,
    pollInterval: f.pollInterval,
    dataDir: f.dataDir,
    ...(f.codeDir === undefined ? {} : { codeDir: f.codeDir }),
    labels: Object.fromEntries(f.label),
    out: resolve(f.out),
    dryRun: f.dryRun === true,
    force: f.force === true,
    installDocker: f.installDocker === true,
  };
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new InvalidArgumentError('expected a port 1-65535');
  return n;
}

function collectLabel(text: string, previous: [string, string][]): [string, string][] {
  try {
    return [...previous, parseLabel(text)];
  } catch {
    throw new InvalidArgumentError('expected key=value');
  }
}

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { OrunError, isOrunError } from '../../apis/errors.ts';
import { decodeManifestFile } from '../../apis/run.orcra.dev/v0alpha/index.ts';
import type { Node } from '../../apis/run.orcra.dev/v0alpha/index.ts';
import {
  BootstrapErrorCode,
  bootstrap,
  checkRequest,
  findAssets,
  parseLabel,
} from '../../runtime/provision/index.ts';
import { installSignalHandlers } from '../../runtime/manager/signals.ts';
import type { BootstrapRequest } from '../../runtime/provision/index.ts';
import { portFromText } from '../../apis/ports.ts';

export interface BootstrapFlags {
  host?: string;
  user?: string;
  port?: number;
  identity?: string;
  knownHosts?: string;
  repo?: string;
  branch?: string;
  pollInterval?: string;
  dataDir?: string;
  codeDir?: string;
  label: [string, string][];
  allowedHostPath?: string[];
  allowedSigner?: string[];
  out?: string;
  ageKey?: string;
  dryRun?: boolean;
  force?: boolean;
  installDocker?: boolean;
  yes?: boolean;
}

/** Every Node field's default (the Node schema's), and bootstrap's own. */
export const BOOTSTRAP_DEFAULTS = {
  user: 'root',
  port: 22,
  identity: '~/.ssh/id_ed25519',
  knownHosts: '~/.ssh/known_hosts',
  branch: 'main',
  pollInterval: '5s',
  dataDir: '/opt/orun/',
  out: '.',
} as const;

/**
 * `orun bootstrap [nodes/<name>.yaml | NAME]`: provision a node over SSH (flags and the manifest
 * → request → runtime/provision). On a terminal it prompts for the fields no flag or manifest
 * gave, then asks to go ahead; `--yes` does neither.
 */
export function bootstrapCommand(): Command {
  return nodeFieldFlags(new Command('bootstrap'))
    .description(
      'provision a node over SSH: install orun (one executable, dist/orun-linux-<x64|arm64> for the node), git and ' +
        'Caddy, the keys and the systemd unit; wait for the first sync. Re-running it upgrades (upgraded A → B) or ' +
        'reports unchanged. A refused key or a host without systemd changes nothing. Other agent settings (ACME CA, ' +
        'email, ports) go in a drop-in (systemctl edit orun), which bootstrap leaves alone',
    )
    .argument('[node]', 'nodes/<name>.yaml of the manifest repository, or a node name (DNS-1123)')
    .option(
      '--out <dir>',
      'manifest repository to write nodes/<name>.yaml into (default: the one holding the given file, else .)',
    )
    .option(
      '--age-key <file>',
      "age key to install as <data-dir>/keys/age.key (default: keep the node's, else make one)",
    )
    .option('-y, --yes', 'do not prompt (also the behaviour without a terminal)')
    .option('--dry-run', 'connect and read the node, print what would change, change nothing')
    .option('--force', 'overwrite an existing nodes/<name>.yaml that describes another Node')
    .addOption(
      new Option('--install-docker', 'apt-get install docker.io when Docker is missing (Debian/Ubuntu)'),
    )
    .action(async function (this: Command, node: string | undefined, flags: BootstrapFlags) {
      const interactive = flags.yes !== true && process.stdin.isTTY === true && process.stderr.isTTY === true;
      const req = await resolveRequest(
        node,
        flags,
        process.env,
        interactive ? terminalPrompt() : undefined,
      ).catch((err: unknown) => {
        // A missing required field is a usage error (exit 2), like a missing flag.
        if (isOrunError(err, BootstrapErrorCode.Usage)) this.error(`error: ${err.message}`, { exitCode: 2 });
        throw err;
      });
      checkRequest(req);
      const { signal, dispose } = installSignalHandlers(process, undefined, { exitCode: 130 });
      try {
        // ssh2 only for this command: loading it costs every other command (and the agent) 16 MiB.
        const { Ssh2Connector } = await import('../../runtime/ssh/ssh2-client.ts');
        const result = await bootstrap(req, {
          connector: new Ssh2Connector(),
          assets: findAssets(),
          log: (line) => process.stderr.write(`${line}\n`),
          print: (text) => process.stdout.write(text),
          signal,
        });
        if (result.problems.length > 0) process.exitCode = 1;
      } finally {
        dispose();
      }
    });
}

/** A flag for every Node field (and the SSH connection's): spec.host ... spec.verifyCommits. */
function nodeFieldFlags(command: Command): Command {
  return command
    .option('--host <host>', 'host name or IP address of the node (spec.host)')
    .option('--user <user>', 'SSH user, root or one with passwordless sudo (default: root)')
    .option('--port <port>', 'SSH port (default: 22)', parsePort)
    .option(
      '--identity <file>',
      'private key for SSH; ssh-agent via SSH_AUTH_SOCK is tried too (default: ~/.ssh/id_ed25519)',
    )
    .option(
      '--known-hosts <file>',
      'known_hosts: unknown hosts are recorded, changed keys refused (default: ~/.ssh/known_hosts)',
    )
    .option(
      '--repo <url>',
      'manifest repository the node tracks, spec.gitRepo (default on a terminal: the origin of --out)',
    )
    .option('--branch <name>', 'spec.gitBranch: main is production (default: main)')
    .option('--poll-interval <duration>', 'spec.pollInterval (default: 5s)')
    .option('--data-dir <dir>', 'spec.dataDir, state directory on the node (default: /opt/orun/)')
    .option('--code-dir <dir>', 'spec.codeDir, where build contexts resolve on the node (default: none)')
    .option('--label <key=value>', 'a Node label (repeatable)', collectLabel, [])
    .option(
      '--allowed-host-path <path>',
      "spec.allowedHostPaths: a host path Deployments may mount (repeatable; replaces the manifest's list)",
      collect,
    )
    .option(
      '--allowed-signer <line>',
      'spec.verifyCommits.allowedSigners: an allowed-signers line whose key may sign commits (repeatable; ' +
        "replaces the manifest's list)",
      collect,
    );
}

/** Asks one question with a default; an empty answer takes the default. */
export type Prompt = {
  ask(question: string, def?: string): Promise<string>;
  close(): void;
};

function terminalPrompt(): Prompt {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  return {
    ask: async (q, def) =>
      (await rl.question(def === undefined ? `${q}: ` : `${q} [${def}]: `)).trim() || (def ?? ''),
    close: () => rl.close(),
  };
}

/**
 * The request from, in order: flags, the given nodes/<name>.yaml, answers to prompts (only for
 * what neither gave), defaults. Missing required fields without a prompt are a usage error.
 */
export async function resolveRequest(
  node: string | undefined,
  f: BootstrapFlags,
  env: NodeJS.ProcessEnv,
  prompt?: Prompt,
): Promise<BootstrapRequest> {
  const fromFile = node !== undefined && /\.ya?ml$/.test(node) ? readNode(node) : undefined;
  const s = fromFile?.spec;
  const out = resolve(f.out ?? (fromFile ? dirname(dirname(resolve(node ?? '.'))) : BOOTSTRAP_DEFAULTS.out));
  const v: AskedValues = {
    name: fromFile?.metadata.name ?? node,
    host: f.host ?? s?.host,
    user: f.user ?? s?.user,
    port: f.port ?? s?.sshPort,
    identity: f.identity ?? s?.sshKeyPath,
    repo: f.repo ?? s?.gitRepo,
    branch: f.branch ?? s?.gitBranch,
    pollInterval: f.pollInterval ?? s?.pollInterval,
    dataDir: f.dataDir ?? s?.dataDir,
    codeDir: f.codeDir ?? s?.codeDir,
  };
  try {
    if (prompt && fromFile === undefined) await askMissing(v, out, prompt);
    const missing = [
      ...(v.name ? [] : ['a node name or nodes/<name>.yaml']),
      ...(v.host ? [] : ['--host']),
      ...(v.repo ? [] : ['--repo']),
    ];
    if (missing.length > 0)
      throw new OrunError(
        BootstrapErrorCode.Usage,
        `bootstrap: missing ${missing.join(', ')} (give them as arguments, or run on a terminal without --yes to be asked)`,
      );
    const req: BootstrapRequest = {
      name: v.name ?? '',
      host: v.host ?? '',
      user: v.user ?? BOOTSTRAP_DEFAULTS.user,
      port: v.port ?? BOOTSTRAP_DEFAULTS.port,
      identity: absolute(v.identity ?? BOOTSTRAP_DEFAULTS.identity),
      knownHosts: absolute(f.knownHosts ?? BOOTSTRAP_DEFAULTS.knownHosts),
      ...(env.SSH_AUTH_SOCK ? { agent: env.SSH_AUTH_SOCK } : {}),
      repo: v.repo ?? '',
      branch: v.branch ?? BOOTSTRAP_DEFAULTS.branch,
      pollInterval: v.pollInterval ?? BOOTSTRAP_DEFAULTS.pollInterval,
      dataDir: v.dataDir ?? BOOTSTRAP_DEFAULTS.dataDir,
      ...(v.codeDir === undefined ? {} : { codeDir: v.codeDir }),
      labels: { ...(fromFile?.metadata.labels ?? {}), ...Object.fromEntries(f.label) },
      ...optionalList('allowedHostPaths', f.allowedHostPath ?? s?.allowedHostPaths),
      ...optionalList('allowedSigners', f.allowedSigner ?? s?.verifyCommits?.allowedSigners),
      out,
      dryRun: f.dryRun === true,
      force: f.force === true,
      installDocker: f.installDocker === true,
      ...(f.ageKey === undefined ? {} : { ageKey: resolve(f.ageKey) }),
    };
    if (prompt) {
      const go = await prompt.ask(
        `Bootstrap node ${req.name} at ${req.user}@${req.host}:${req.port}, tracking ${req.repo} (${req.branch})? [Y/n]`,
      );
      if (/^n/i.test(go))
        throw new OrunError(BootstrapErrorCode.InvalidRequest, 'bootstrap: cancelled; nothing was changed');
    }
    return req;
  } finally {
    prompt?.close();
  }
}

/** What neither the flags nor a nodes/<name>.yaml gave, asked on the terminal. */
async function askMissing(v: AskedValues, out: string, prompt: Prompt): Promise<void> {
  v.name ??= (await prompt.ask('Node name (metadata.name)')) || undefined;
  v.host ??= (await prompt.ask('Host (spec.host: name or IP reached over SSH)')) || undefined;
  v.user ??= await prompt.ask('SSH user (spec.user)', BOOTSTRAP_DEFAULTS.user);
  v.port ??= Number(await prompt.ask('SSH port (spec.sshPort)', String(BOOTSTRAP_DEFAULTS.port)));
  v.identity ??= await prompt.ask('SSH key (spec.sshKeyPath)', BOOTSTRAP_DEFAULTS.identity);
  v.repo ??= (await prompt.ask('Manifest repository (spec.gitRepo)', originOf(out))) || undefined;
  v.branch ??= await prompt.ask('Branch (spec.gitBranch; main is production)', BOOTSTRAP_DEFAULTS.branch);
  v.pollInterval ??= await prompt.ask('Poll interval (spec.pollInterval)', BOOTSTRAP_DEFAULTS.pollInterval);
  v.dataDir ??= await prompt.ask('Data dir (spec.dataDir)', BOOTSTRAP_DEFAULTS.dataDir);
}

/** The request's fields before defaults: from the flags, else the nodes/<name>.yaml, else asked. */
interface AskedValues {
  name: string | undefined;
  host: string | undefined;
  user: string | undefined;
  port: number | undefined;
  identity: string | undefined;
  repo: string | undefined;
  branch: string | undefined;
  pollInterval: string | undefined;
  dataDir: string | undefined;
  codeDir: string | undefined;
}

/** The Node in a nodes/<name>.yaml, decoded as the agent does (defaults applied). */
function readNode(file: string): Node {
  if (!existsSync(file))
    throw new OrunError(BootstrapErrorCode.InvalidRequest, `bootstrap: ${file}: no such file`);
  const { objects, errors } = decodeManifestFile(file, readFileSync(file, 'utf8'));
  const node = objects.find((o) => o.kind === 'Node');
  if (errors.length > 0 || node === undefined || objects.length !== 1)
    throw new OrunError(
      BootstrapErrorCode.InvalidRequest,
      `bootstrap: ${file} is not one valid Node manifest:\n${errors.map((e) => `  ${e.format()}`).join('\n') || '  (no kind: Node)'}`,
    );
  return node;
}

/** `git remote get-url origin` of the manifest repository, if it has one. */
function originOf(dir: string): string | undefined {
  try {
    return (
      execFileSync('git', ['-C', dir, 'remote', 'get-url', 'origin'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

function absolute(p: string): string {
  return p.startsWith('~/') || isAbsolute(p) ? p : resolve(p);
}

function parsePort(text: string): number {
  const n = portFromText(text);
  if (n === undefined) throw new InvalidArgumentError('expected a port 1-65535');
  return n;
}

/** `{ [key]: list }` when there is a list, else nothing (the request leaves the field out). */
function optionalList<K extends string>(key: K, list: string[] | undefined): Partial<Record<K, string[]>> {
  return list === undefined ? {} : ({ [key]: list } as Partial<Record<K, string[]>>);
}

function collect(text: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), text];
}

function collectLabel(text: string, previous: [string, string][]): [string, string][] {
  try {
    return [...previous, parseLabel(text)];
  } catch {
    throw new InvalidArgumentError('expected key=value');
  }
}

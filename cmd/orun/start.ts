import { setFlagsFromString } from 'node:v8';
import { Command, Option } from 'commander';
import { installSignalHandlers } from '../../runtime/manager/index.ts';
import { runAgent } from './agent.ts';
import {
  DEFAULTS,
  ENV_NAMES,
  envSettings,
  INGRESS_MODES,
  LIST_SEPARATOR,
  fileSettings,
  resolveSettings,
  type RawSettings,
} from './options.ts';

interface StartFlags {
  repo?: string;
  branch?: string;
  node?: string;
  dataDir?: string;
  pollInterval?: string;
  ageKeyPath?: string;
  sshKeyPath?: string;
  secretsDir?: string;
  metricsAddress?: string;
  socket?: string;
  logLevel?: string;
  ingress?: string;
  httpPort?: string;
  httpsPort?: string;
  acmeCa?: string;
  acmeEmail?: string;
  acmeCaRoot?: string[];
  caddyPath?: string;
  allowedSigners?: string;
  maxManifestBytes?: string;
  maxRepoBytes?: string;
  webhookAddress?: string;
  webhookSecretFile?: string;
  notify?: string[];
  config?: string;
}

/** `orun start`: run the agent on this node in the foreground (flags → settings → agent). */
export function startCommand(): Command {
  const env = (name: keyof typeof ENV_NAMES): string => `(env ${ENV_NAMES[name]})`;
  return new Command('start')
    .description('run the agent on this node: poll the manifest repository and reconcile containers')
    .option(
      '--repo <url|path>',
      `manifest repository: file://, ssh://, https:// URL or a local path ${env('repo')}`,
    )
    .option(
      '--branch <name>',
      `branch to track; default the Node's gitBranch, else ${DEFAULTS.branch} ${env('branch')}`,
    )
    .option('--node <name>', `this node's name (nodes/<name>.yaml); default the host name ${env('node')}`)
    .option('--data-dir <dir>', `state directory; default ${DEFAULTS.dataDir} ${env('dataDir')}`)
    .option(
      '--poll-interval <duration>',
      `time between Git ref checks, e.g. 5s; default the Node's pollInterval, else ${DEFAULTS.pollInterval} ${env('pollIntervalMs')}`,
    )
    .option(
      '--age-key-path <file>',
      `age key for SOPS; then SOPS_AGE_KEY_FILE, then <data-dir>/keys/age.key ${env('ageKeyPath')}`,
    )
    .option('--ssh-key-path <file>', `deploy key for ssh:// repositories ${env('sshKeyPath')}`)
    .option(
      '--secrets-dir <dir>',
      `where secretFiles are written for containers; must be on a tmpfs; default ${DEFAULTS.secretsDir} ${env('secretsDir')}`,
    )
    .option(
      '--metrics-address <host:port>',
      `/healthz, /readyz and /metrics; default ${DEFAULTS.metricsAddress} ${env('metricsAddress')}`,
    )
    .option('--socket <path>', `local API unix socket; default <data-dir>/orun.sock ${env('socket')}`)
    .addOption(
      new Option('--log-level <level>', `default ${DEFAULTS.logLevel} ${env('logLevel')}`).choices([
        'trace',
        'debug',
        'info',
        'warn',
        'error',
        'fatal',
        'silent',
      ]),
    )
    .addOption(
      new Option(
        '--ingress <mode>',
        `caddy: publish Services through a supervised Caddy (files in <data-dir>/caddy); none: no ingress; default ${DEFAULTS.ingress} ${env('ingress')}`,
      ).choices(INGRESS_MODES),
    )
    .option('--http-port <port>', `Caddy's HTTP port; default ${DEFAULTS.httpPort} ${env('httpPort')}`)
    .option('--https-port <port>', `Caddy's HTTPS port; default ${DEFAULTS.httpsPort} ${env('httpsPort')}`)
    .option(
      '--acme-ca <url>',
      `ACME directory for ssl: true Services; default Let's Encrypt production (${DEFAULTS.acmeCa}) ${env('acmeCa')}`,
    )
    .option('--acme-email <email>', `ACME account email for expiry notices; default none ${env('acmeEmail')}`)
    .option(
      '--acme-ca-root <file>',
      `PEM file trusted for the ACME CA's own HTTPS endpoint (a private CA); repeatable; comma-separated in env and config ${env('acmeCaRoot')}`,
      (file: string, prev: string[] | undefined) => [...(prev ?? []), file],
    )
    .option(
      '--caddy-path <file>',
      `the caddy binary; default ${DEFAULTS.caddyPath} (from PATH) ${env('caddyPath')}`,
    )
    .option(
      '--allowed-signers <file>',
      `SSH allowed-signers file: apply only commits signed by one of its keys; others are refused and reported on the Node (GitSynced=False, InvalidCommitSignature); default: commits are not verified ${env('allowedSignersFile')}`,
    )
    .option(
      '--max-manifest-bytes <size>',
      `largest manifest file read (e.g. 1MiB); a larger one is an error of that file and keeps its last good objects; default 1MiB ${env('maxManifestBytes')}`,
    )
    .option(
      '--max-repo-bytes <size>',
      `largest total of the manifest files of one revision; over it no file is parsed and every file keeps its last good objects; default 64MiB ${env('maxRepoBytes')}`,
    )
    .option(
      '--webhook-address <host:port>',
      `listen for Git host push webhooks (POST /hook/github|gitlab|gitea|forgejo|generic) and poll at once; default none (polling only) ${env('webhookAddress')}`,
    )
    .option(
      '--webhook-secret-file <file>',
      `the webhook secret (GitHub/Gitea/Forgejo HMAC key, GitLab token, generic bearer/HMAC key) ${env('webhookSecretFile')}`,
    )
    .option(
      '--notify <type=url>',
      `send rollout succeeded/failed, stalled and sync failed messages: generic=URL (JSON) or slack=URL (Slack-compatible); repeatable; comma-separated in env and config ${env('notify')}`,
      (e: string, prev: string[] | undefined) => [...(prev ?? []), e],
    )
    .option('--config <file>', 'YAML config file with the same settings in camelCase (env ORUN_CONFIG)')
    .action(async (flags: StartFlags) => {
      // The agent runs for months beside the workloads: a 1 MiB young generation and V8's
      // size-over-speed heuristics cost it 8 MiB less RSS (BENCHMARKS.md, agent-idle), set before
      // the heap has grown. Its bursts of work (a commit of 500 Deployments) stay well within budget.
      setFlagsFromString('--max-semi-space-size=1');
      setFlagsFromString('--optimize-for-size');
      const fromFlags: RawSettings = {
        repo: flags.repo,
        branch: flags.branch,
        node: flags.node,
        dataDir: flags.dataDir,
        pollIntervalMs: flags.pollInterval,
        ageKeyPath: flags.ageKeyPath,
        sshKeyPath: flags.sshKeyPath,
        secretsDir: flags.secretsDir,
        metricsAddress: flags.metricsAddress,
        socket: flags.socket,
        logLevel: flags.logLevel,
        ingress: flags.ingress,
        httpPort: flags.httpPort,
        httpsPort: flags.httpsPort,
        acmeCa: flags.acmeCa,
        acmeEmail: flags.acmeEmail,
        acmeCaRoot: flags.acmeCaRoot?.join(LIST_SEPARATOR),
        caddyPath: flags.caddyPath,
        allowedSignersFile: flags.allowedSigners,
        maxManifestBytes: flags.maxManifestBytes,
        maxRepoBytes: flags.maxRepoBytes,
        webhookAddress: flags.webhookAddress,
        webhookSecretFile: flags.webhookSecretFile,
        notify: flags.notify?.join(LIST_SEPARATOR),
      };
      const configPath = flags.config ?? process.env.ORUN_CONFIG;
      const fromFile = configPath === undefined ? {} : await fileSettings(configPath);
      const settings = resolveSettings([defined(fromFlags), envSettings(process.env), fromFile]);
      const { signal, dispose } = installSignalHandlers();
      try {
        await runAgent(settings, signal);
      } finally {
        dispose();
      }
    });
}

function defined(r: RawSettings): RawSettings {
  return Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));
}

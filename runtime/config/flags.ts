/**
 * `orun start`'s command-line flags: one row per setting (settings.ts), in `--help` order. The
 * command (cmd/orun/start.ts) makes a commander Option of each row; `rawFromFlags` turns the
 * parsed values back into RawSettings, the first of resolveSettings' sources.
 */
import { DEFAULTS, ENV_NAMES, INGRESS_MODES, LIST_SEPARATOR, LOG_LEVELS } from './settings.ts';
import type { RawSettings, SettingName } from './settings.ts';

export interface SettingFlag {
  readonly setting: SettingName;
  /** commander's flag syntax, e.g. `--repo <url|path>`. */
  readonly flags: string;
  readonly help: string;
  readonly choices?: readonly string[];
  /** Repeatable; the values are joined with LIST_SEPARATOR (as in env and the config file). */
  readonly repeatable?: boolean;
}

const env = (name: SettingName): string => `(env ${ENV_NAMES[name]})`;

export const START_FLAGS: readonly SettingFlag[] = [
  {
    setting: 'repo',
    flags: '--repo <url|path>',
    help: `manifest repository: file://, ssh://, https:// URL or a local path ${env('repo')}`,
  },
  {
    setting: 'branch',
    flags: '--branch <name>',
    help: `branch to track; default the Node's gitBranch, else ${DEFAULTS.branch} ${env('branch')}`,
  },
  {
    setting: 'node',
    flags: '--node <name>',
    help: `this node's name (nodes/<name>.yaml); default the host name ${env('node')}`,
  },
  {
    setting: 'dataDir',
    flags: '--data-dir <dir>',
    help: `state directory; default ${DEFAULTS.dataDir} ${env('dataDir')}`,
  },
  {
    setting: 'pollIntervalMs',
    flags: '--poll-interval <duration>',
    help: `time between Git ref checks, e.g. 5s; default the Node's pollInterval, else ${DEFAULTS.pollInterval} ${env('pollIntervalMs')}`,
  },
  {
    setting: 'ageKeyPath',
    flags: '--age-key-path <file>',
    help: `age key for SOPS; then SOPS_AGE_KEY_FILE, then <data-dir>/keys/age.key ${env('ageKeyPath')}`,
  },
  {
    setting: 'sshKeyPath',
    flags: '--ssh-key-path <file>',
    help: `deploy key for ssh:// repositories ${env('sshKeyPath')}`,
  },
  {
    setting: 'secretsDir',
    flags: '--secrets-dir <dir>',
    help: `where secretFiles are written for containers; must be on a tmpfs; default ${DEFAULTS.secretsDir} ${env('secretsDir')}`,
  },
  {
    setting: 'metricsAddress',
    flags: '--metrics-address <host:port>',
    help: `/healthz, /readyz and /metrics; default ${DEFAULTS.metricsAddress} ${env('metricsAddress')}`,
  },
  {
    setting: 'socket',
    flags: '--socket <path>',
    help: `local API unix socket; default <data-dir>/orun.sock ${env('socket')}`,
  },
  {
    setting: 'logLevel',
    flags: '--log-level <level>',
    help: `default ${DEFAULTS.logLevel} ${env('logLevel')}`,
    choices: LOG_LEVELS,
  },
  {
    setting: 'ingress',
    flags: '--ingress <mode>',
    help: `caddy: publish Services through a supervised Caddy (files in <data-dir>/caddy); none: no ingress; default ${DEFAULTS.ingress} ${env('ingress')}`,
    choices: INGRESS_MODES,
  },
  {
    setting: 'httpPort',
    flags: '--http-port <port>',
    help: `Caddy's HTTP port; default ${DEFAULTS.httpPort} ${env('httpPort')}`,
  },
  {
    setting: 'httpsPort',
    flags: '--https-port <port>',
    help: `Caddy's HTTPS port; default ${DEFAULTS.httpsPort} ${env('httpsPort')}`,
  },
  {
    setting: 'acmeCa',
    flags: '--acme-ca <url>',
    help: `ACME directory for ssl: true Services; default Let's Encrypt production (${DEFAULTS.acmeCa}) ${env('acmeCa')}`,
  },
  {
    setting: 'acmeEmail',
    flags: '--acme-email <email>',
    help: `ACME account email for expiry notices; default none ${env('acmeEmail')}`,
  },
  {
    setting: 'acmeCaRoot',
    flags: '--acme-ca-root <file>',
    help: `PEM file trusted for the ACME CA's own HTTPS endpoint (a private CA); repeatable; comma-separated in env and config ${env('acmeCaRoot')}`,
    repeatable: true,
  },
  {
    setting: 'caddyPath',
    flags: '--caddy-path <file>',
    help: `the caddy binary; default ${DEFAULTS.caddyPath} (from PATH) ${env('caddyPath')}`,
  },
  {
    setting: 'allowedSignersFile',
    flags: '--allowed-signers <file>',
    help: `SSH allowed-signers file: apply only commits signed by one of its keys; others are refused and reported on the Node (GitSynced=False, InvalidCommitSignature); the repository cannot change or turn it off (the Node's spec.verifyCommits is then ignored); default: the Node's spec.verifyCommits, else commits are not verified ${env('allowedSignersFile')}`,
  },
  {
    setting: 'maxManifestBytes',
    flags: '--max-manifest-bytes <size>',
    help: `largest manifest file read (e.g. 1MiB); a larger one is an error of that file and keeps its last good objects; default 1MiB ${env('maxManifestBytes')}`,
  },
  {
    setting: 'maxRepoBytes',
    flags: '--max-repo-bytes <size>',
    help: `largest total of the manifest files of one revision; over it no file is parsed and every file keeps its last good objects; default 64MiB ${env('maxRepoBytes')}`,
  },
  {
    setting: 'webhookAddress',
    flags: '--webhook-address <host:port>',
    help: `listen for Git host push webhooks (POST /hook/github|gitlab|gitea|forgejo|generic) and poll at once; default none (polling only) ${env('webhookAddress')}`,
  },
  {
    setting: 'webhookSecretFile',
    flags: '--webhook-secret-file <file>',
    help: `the webhook secret (GitHub/Gitea/Forgejo HMAC key, GitLab token, generic bearer/HMAC key) ${env('webhookSecretFile')}`,
  },
  {
    setting: 'crashBackoffMs',
    flags: '--crash-backoff <duration>',
    help: `delay before the first restart of a crashed container (and the first image pull/build retry), doubling up to 5m; default ${DEFAULTS.crashBackoff} ${env('crashBackoffMs')}`,
  },
  {
    setting: 'notify',
    flags: '--notify <type=url>',
    help: `send rollout succeeded/failed, stalled and sync failed messages: generic=URL (JSON) or slack=URL (Slack-compatible); repeatable; comma-separated in env and config ${env('notify')}`,
    repeatable: true,
  },
];

/**
 * The settings given as flags. `values` maps each flag row's setting to what commander parsed
 * (a string, or a list for a repeatable flag); flags not given are left out.
 */
export function rawFromFlags(values: ReadonlyMap<SettingName, unknown>): RawSettings {
  const out: RawSettings = {};
  for (const [setting, v] of values) {
    if (typeof v === 'string') out[setting] = v;
    else if (Array.isArray(v)) out[setting] = v.join(LIST_SEPARATOR);
  }
  return out;
}

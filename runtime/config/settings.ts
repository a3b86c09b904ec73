/**
 * `orun start` settings: one place for names, sources and defaults. Precedence, highest first:
 * flag > environment (ORUN_*) > config file (YAML, `--config`) > the Node manifest > default.
 * The Node manifest can only supply what no higher source pinned (see `AgentSettings.pinned`).
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { OrunError, errorMessage } from '../../apis/errors.ts';
import { parseDuration } from '../../apis/run.orcra.dev/v0alpha/duration.ts';
import { DEFAULT_MANIFEST_LIMITS, type ManifestLimits } from '../../apis/run.orcra.dev/v0alpha/limits.ts';
import { LETS_ENCRYPT_PRODUCTION } from '../caddy/index.ts';
import { parseEndpoint, type Endpoint } from '../notify/index.ts';
import { portFromText } from '../../apis/ports.ts';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const INGRESS_MODES = ['caddy', 'none'] as const;
export type IngressMode = (typeof INGRESS_MODES)[number];

/** Every setting of the agent. */
export interface AgentSettings {
  /** Manifest repository: URL (`file://`, `ssh://`, `https://`) or local path. Required. */
  repo: string;
  /** Branch to track. Default `main` (or the Node manifest's gitBranch). */
  branch: string;
  /** This node's name (`nodes/<name>.yaml`). Default: the host name. */
  node: string;
  /** State: the repository (`<dataDir>/repo`), the socket, keys. Default `/opt/orun/`. */
  dataDir: string;
  /** Between cheap ref checks. Default 5 s (or the Node manifest's pollInterval). */
  pollIntervalMs: number;
  /** Age key for SOPS; then SOPS_AGE_KEY_FILE, then `<dataDir>/keys/age.key`. Default: none. */
  ageKeyPath: string | undefined;
  /** Deploy key for ssh:// remotes. Default: none (ssh's own defaults). */
  sshKeyPath: string | undefined;
  /** Where `secretFiles` are written; must be on a tmpfs. Default `/run/orun/secrets`. */
  secretsDir: string;
  /** /healthz, /readyz, /metrics. Default `127.0.0.1:9464` (loopback; 9090 is Prometheus's own port). */
  metricsAddress: string;
  /** The local API's unix socket. Default `<dataDir>/orun.sock`. */
  socket: string;
  /** Default `info`. */
  logLevel: LogLevel;
  /** `caddy`: publish Services through a supervised Caddy (files in `<dataDir>/caddy`); `none`: no ingress. Default `caddy`. */
  ingress: IngressMode;
  /** Caddy's plain HTTP port (non-ssl Services, redirects, ACME HTTP-01). Default 80. */
  httpPort: number;
  /** Caddy's HTTPS port. Default 443. */
  httpsPort: number;
  /** ACME directory URL for `ssl: true` Services. Default Let's Encrypt production. */
  acmeCa: string;
  /** ACME account email (expiry notices). Default: none. */
  acmeEmail: string | undefined;
  /** PEM files trusted for the ACME CA's own HTTPS endpoint (a private CA such as pebble). Default: none (system roots). */
  acmeCaRoot: string[] | undefined;
  /** The caddy binary. Default `caddy` (from PATH). */
  caddyPath: string;
  /**
   * An SSH allowed-signers file (`git config gpg.ssh.allowedSignersFile` format): only commits
   * signed by one of its keys are applied; any other tip is refused and reported on the Node
   * (GitSynced=False, InvalidCommitSignature). Default: none (the Node's spec.verifyCommits, else not verified).
   */
  allowedSignersFile: string | undefined;
  /** Largest manifest file read, in bytes; a larger one is an error of that file. Default 1 MiB. */
  maxManifestBytes: number;
  /** Largest total of a revision's manifest files; over it no file is parsed. Default 64 MiB. */
  maxRepoBytes: number;
  /** Where the push-webhook receiver listens (`host:port`). Default: none (no receiver; polling only). */
  webhookAddress: string | undefined;
  /** File holding the webhook secret (HMAC key or token). Required with `webhookAddress`. */
  webhookSecretFile: string | undefined;
  /** Notification endpoints (`generic=URL`, `slack=URL`) for rollout/stall/sync messages. Default: none. */
  notify: Endpoint[];
  /** Delay before the first restart of a crashed container (and the first image pull/build retry), doubling up to 5 min. Default 10 s (kubelet's). */
  crashBackoffMs: number;
  /** Settings set by a flag, the environment or the config file: the Node manifest does not override them. */
  pinned: ReadonlySet<SettingName>;
}

export type SettingName = Exclude<keyof AgentSettings, 'pinned'>;

export const DEFAULTS = {
  branch: 'main',
  dataDir: '/opt/orun/',
  pollInterval: '5s',
  metricsAddress: '127.0.0.1:9464',
  logLevel: 'info',
  ingress: 'caddy',
  httpPort: 80,
  httpsPort: 443,
  acmeCa: LETS_ENCRYPT_PRODUCTION,
  caddyPath: 'caddy',
  secretsDir: '/run/orun/secrets',
  maxManifestBytes: DEFAULT_MANIFEST_LIMITS.maxFileBytes,
  maxRepoBytes: DEFAULT_MANIFEST_LIMITS.maxRepoBytes,
  crashBackoff: '10s',
} as const;

/** Raw string values as given by one source. */
export type RawSettings = Partial<Record<SettingName, string>>;

/** Environment variable of each setting. */
export const ENV_NAMES: Readonly<Record<SettingName, string>> = {
  repo: 'ORUN_REPO',
  branch: 'ORUN_BRANCH',
  node: 'ORUN_NODE',
  dataDir: 'ORUN_DATA_DIR',
  pollIntervalMs: 'ORUN_POLL_INTERVAL',
  ageKeyPath: 'ORUN_AGE_KEY_PATH',
  sshKeyPath: 'ORUN_SSH_KEY_PATH',
  secretsDir: 'ORUN_SECRETS_DIR',
  metricsAddress: 'ORUN_METRICS_ADDRESS',
  socket: 'ORUN_SOCKET',
  logLevel: 'ORUN_LOG_LEVEL',
  ingress: 'ORUN_INGRESS',
  httpPort: 'ORUN_HTTP_PORT',
  httpsPort: 'ORUN_HTTPS_PORT',
  acmeCa: 'ORUN_ACME_CA',
  acmeEmail: 'ORUN_ACME_EMAIL',
  acmeCaRoot: 'ORUN_ACME_CA_ROOT',
  caddyPath: 'ORUN_CADDY_PATH',
  allowedSignersFile: 'ORUN_ALLOWED_SIGNERS',
  maxManifestBytes: 'ORUN_MAX_MANIFEST_BYTES',
  maxRepoBytes: 'ORUN_MAX_REPO_BYTES',
  webhookAddress: 'ORUN_WEBHOOK_ADDRESS',
  webhookSecretFile: 'ORUN_WEBHOOK_SECRET_FILE',
  notify: 'ORUN_NOTIFY',
  crashBackoffMs: 'ORUN_CRASH_BACKOFF',
};

/** Config-file key of each setting (camelCase, as in the Node manifest). */
const FILE_KEYS: Readonly<Record<string, SettingName>> = {
  repo: 'repo',
  branch: 'branch',
  node: 'node',
  dataDir: 'dataDir',
  pollInterval: 'pollIntervalMs',
  ageKeyPath: 'ageKeyPath',
  sshKeyPath: 'sshKeyPath',
  secretsDir: 'secretsDir',
  metricsAddress: 'metricsAddress',
  socket: 'socket',
  logLevel: 'logLevel',
  ingress: 'ingress',
  httpPort: 'httpPort',
  httpsPort: 'httpsPort',
  acmeCa: 'acmeCa',
  acmeEmail: 'acmeEmail',
  acmeCaRoot: 'acmeCaRoot',
  caddyPath: 'caddyPath',
  allowedSigners: 'allowedSignersFile',
  maxManifestBytes: 'maxManifestBytes',
  maxRepoBytes: 'maxRepoBytes',
  webhookAddress: 'webhookAddress',
  webhookSecretFile: 'webhookSecretFile',
  notify: 'notify',
  crashBackoff: 'crashBackoffMs',
};

/** Joins the items of a list setting (`acmeCaRoot`) in env and config-file values (a YAML list works too). */
export const LIST_SEPARATOR = ',';

export function envSettings(env: NodeJS.ProcessEnv): RawSettings {
  const out: RawSettings = {};
  for (const [name, variable] of Object.entries(ENV_NAMES) as [SettingName, string][]) {
    const v = env[variable];
    if (v !== undefined && v !== '') out[name] = v;
  }
  return out;
}

/** Reads the YAML config file: a mapping of the keys above. Throws `orun.bad_config`. */
export async function fileSettings(path: string): Promise<RawSettings> {
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(path, 'utf8'));
  } catch (err) {
    throw new OrunError('orun.bad_config', `start: read config ${path}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new OrunError('orun.bad_config', `start: config ${path}: expected a mapping`);
  const out: RawSettings = {};
  for (const [key, value] of Object.entries(doc)) {
    const name = FILE_KEYS[key];
    if (name === undefined) {
      throw new OrunError('orun.bad_config', `start: config ${path}: unknown key "${key}"`, {
        context: { known: Object.keys(FILE_KEYS) },
      });
    }
    if (
      (name === 'acmeCaRoot' || name === 'notify') &&
      Array.isArray(value) &&
      value.every((v) => typeof v === 'string')
    ) {
      out[name] = value.join(LIST_SEPARATOR);
      continue;
    }
    if (typeof value !== 'string' && typeof value !== 'number')
      throw new OrunError('orun.bad_config', `start: config ${path}: ${key}: expected a string`);
    out[name] = String(value);
  }
  return out;
}

/**
 * Merges the sources (flags first) and applies the defaults. Throws `orun.bad_setting` naming
 * the setting and where it came from.
 */
export function resolveSettings(sources: readonly RawSettings[], host: string = hostname()): AgentSettings {
  const pinned = new Set<SettingName>();
  const pick = (name: SettingName): string | undefined => {
    for (const s of sources) {
      const v = s[name];
      if (v !== undefined) {
        pinned.add(name);
        return v;
      }
    }
    return undefined;
  };
  const repo = pick('repo');
  if (repo === undefined) {
    throw new OrunError(
      'orun.bad_setting',
      'start: no manifest repository: pass --repo URL|PATH (or set ORUN_REPO, or repo: in the config file)',
    );
  }
  const dataDir = pick('dataDir') ?? DEFAULTS.dataDir;
  const pollIntervalMs = duration('poll interval', pick('pollIntervalMs') ?? DEFAULTS.pollInterval);
  const logLevel = pick('logLevel') ?? DEFAULTS.logLevel;
  oneOf('log level', logLevel, LOG_LEVELS);
  const ingress = pick('ingress') ?? DEFAULTS.ingress;
  oneOf('ingress', ingress, INGRESS_MODES);
  const httpPort = port('HTTP port', pick('httpPort'), DEFAULTS.httpPort);
  const httpsPort = port('HTTPS port', pick('httpsPort'), DEFAULTS.httpsPort);
  if (httpPort === httpsPort)
    throw new OrunError('orun.bad_setting', `start: HTTP and HTTPS ports are both ${httpPort}`);
  const acmeCa = pick('acmeCa') ?? DEFAULTS.acmeCa;
  if (!/^https?:\/\/[^/]/.test(acmeCa))
    throw new OrunError(
      'orun.bad_setting',
      `start: ACME CA "${acmeCa}": expected the directory URL, e.g. ${LETS_ENCRYPT_PRODUCTION}`,
    );
  const rootsText = pick('acmeCaRoot');
  const roots = rootsText === undefined ? undefined : listItems(rootsText);
  const notify = listItems(pick('notify') ?? '').map(notifyEndpoint);
  const webhookAddress = pick('webhookAddress');
  const webhookSecretFile = pick('webhookSecretFile');
  if (webhookAddress !== undefined && webhookSecretFile === undefined)
    throw new OrunError(
      'orun.bad_setting',
      'start: --webhook-address needs --webhook-secret-file (the secret the Git host signs with)',
    );
  return {
    repo,
    branch: pick('branch') ?? DEFAULTS.branch,
    node: pick('node') ?? host,
    dataDir,
    pollIntervalMs,
    ageKeyPath: pick('ageKeyPath'),
    sshKeyPath: pick('sshKeyPath'),
    secretsDir: pick('secretsDir') ?? DEFAULTS.secretsDir,
    metricsAddress: pick('metricsAddress') ?? DEFAULTS.metricsAddress,
    socket: pick('socket') ?? join(dataDir, 'orun.sock'),
    logLevel: logLevel as LogLevel,
    ingress: ingress as IngressMode,
    httpPort,
    httpsPort,
    acmeCa,
    acmeEmail: pick('acmeEmail'),
    acmeCaRoot: roots === undefined || roots.length === 0 ? undefined : roots,
    caddyPath: pick('caddyPath') ?? DEFAULTS.caddyPath,
    allowedSignersFile: pick('allowedSignersFile'),
    maxManifestBytes: bytes('max manifest bytes', pick('maxManifestBytes'), DEFAULTS.maxManifestBytes),
    maxRepoBytes: bytes('max repo bytes', pick('maxRepoBytes'), DEFAULTS.maxRepoBytes),
    webhookAddress,
    webhookSecretFile,
    notify,
    crashBackoffMs: duration('crash back-off', pick('crashBackoffMs') ?? DEFAULTS.crashBackoff),
    pinned,
  };
}

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** `1048576`, `512KiB`, `1MiB`, `2GiB`. Throws `orun.bad_setting`. */
export function parseBytes(what: string, text: string, command = 'start'): number {
  const m = /^\s*(\d+)\s*(KiB|MiB|GiB)?\s*$/.exec(text);
  const n = m ? Number(m[1]) * (BYTE_UNITS[m[2] ?? ''] ?? 1) : NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new OrunError(
      'orun.bad_setting',
      `${command}: ${what} "${text}": expected a size like 1048576, 512KiB or 1MiB`,
    );
  return n;
}

/**
 * The size limits `orun validate` checks with: its flags, else the agent's environment variables
 * (ORUN_MAX_MANIFEST_BYTES, ORUN_MAX_REPO_BYTES), else the defaults, so it refuses exactly the
 * files an agent started with the same values refuses.
 */
export function validateLimits(
  flags: { maxManifestBytes?: string; maxRepoBytes?: string },
  env: Readonly<Record<string, string | undefined>> = process.env,
): ManifestLimits {
  const size = (what: string, text: string | undefined, fallback: number): number =>
    text === undefined ? fallback : parseBytes(what, text, 'validate');
  return {
    maxFileBytes: size(
      'max manifest bytes',
      flags.maxManifestBytes ?? env[ENV_NAMES.maxManifestBytes],
      DEFAULTS.maxManifestBytes,
    ),
    maxRepoBytes: size(
      'max repo bytes',
      flags.maxRepoBytes ?? env[ENV_NAMES.maxRepoBytes],
      DEFAULTS.maxRepoBytes,
    ),
  };
}

/** Throws `orun.bad_setting` unless `value` is one of `allowed`. */
function oneOf(what: string, value: string, allowed: readonly string[]): void {
  if (!allowed.includes(value))
    throw new OrunError(
      'orun.bad_setting',
      `start: ${what} "${value}": expected one of ${allowed.join(', ')}`,
    );
}

/** The non-empty items of a list setting (LIST_SEPARATOR between them), trimmed. */
function listItems(text: string): string[] {
  return text
    .split(LIST_SEPARATOR)
    .map((e) => e.trim())
    .filter((e) => e !== '');
}

/** `generic=URL` or `slack=URL`. Throws `orun.bad_setting` (naming the type, never the URL). */
function notifyEndpoint(e: string): Endpoint {
  const ep = parseEndpoint(e);
  if (ep === undefined)
    throw new OrunError(
      'orun.bad_setting',
      `start: notify "${e.slice(0, e.indexOf('=') + 1)}…": expected generic=URL or slack=URL (http or https)`,
    );
  return ep;
}

/** A positive duration (`5s`, `500ms`, `1m`). Throws `orun.bad_setting`. */
function duration(what: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0)
    throw new OrunError(
      'orun.bad_setting',
      `start: ${what} "${text}": expected a duration like 5s, 500ms or 1m`,
    );
  return ms;
}

function bytes(what: string, text: string | undefined, fallback: number): number {
  return text === undefined ? fallback : parseBytes(what, text);
}

function port(what: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = portFromText(text.trim());
  if (n === undefined)
    throw new OrunError('orun.bad_setting', `start: ${what} "${text}": expected a port number 1-65535`);
  return n;
}

/** The Node manifest's live settings, unless a higher source pinned them. */
export function nodeOverrides(
  settings: AgentSettings,
  spec: { gitBranch?: string; pollInterval?: string },
): { branch: string; pollIntervalMs: number } {
  const poll = spec.pollInterval === undefined ? undefined : parseDuration(spec.pollInterval);
  return {
    branch: settings.pinned.has('branch') ? settings.branch : (spec.gitBranch ?? settings.branch),
    pollIntervalMs:
      settings.pinned.has('pollIntervalMs') || poll === undefined || poll <= 0
        ? settings.pollIntervalMs
        : poll,
  };
}

/**
 * The branch and poll interval the Git source uses now: the Node manifest's (unless pinned), else
 * the settings' (no Node in the store yet).
 */
export function liveSourceSettings(
  settings: AgentSettings,
  node: { spec: { gitBranch?: string; pollInterval?: string } } | undefined,
): { branch: string; pollIntervalMs: number } {
  return node === undefined
    ? { branch: settings.branch, pollIntervalMs: settings.pollIntervalMs }
    : nodeOverrides(settings, node.spec);
}

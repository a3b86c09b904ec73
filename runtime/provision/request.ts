/**
 * What `orun bootstrap` was asked to do, validated before anything connects: the flags, and the
 * Node manifest they describe (decoded with the apis decoder, so it is exactly what `orun
 * validate` and the agent accept).
 */
import { stringify } from 'yaml';
import { OrunError } from '../../apis/errors.ts';
import { API_VERSION, decodeManifestFile } from '../../apis/run.orcra.dev/v0alpha/index.ts';
import { isPort } from '../../apis/ports.ts';

/** Error codes of `orun bootstrap` (OrunError.code). */
export const BootstrapErrorCode = {
  /** A flag is malformed or the Node it describes does not validate. */
  InvalidRequest: 'BootstrapInvalidRequest',
  /** A required field (name, --host, --repo) was given neither as an argument nor an answer. */
  Usage: 'BootstrapUsage',
  /** The node lacks something bootstrap will not install (systemd, docker, root, Node.js). */
  Prerequisites: 'BootstrapPrerequisites',
  /** `nodes/<name>.yaml` exists with other content and `--force` was not given. */
  ManifestExists: 'BootstrapManifestExists',
  /** A step failed; the message names it (`bootstrap: install unit: ...`), `cause` says why. */
  StepFailed: 'BootstrapStepFailed',
  /** A remote command exited non-zero; the StepFailed wrapping it names the step. */
  RemoteCommandFailed: 'BootstrapRemoteCommandFailed',
  /** The local dist bundles or the systemd unit could not be found. */
  AssetsMissing: 'BootstrapAssetsMissing',
} as const;

export interface BootstrapRequest {
  /** Node name: `metadata.name` and ORUN_NODE. */
  name: string;
  host: string;
  /** Default `root`. Non-root users need passwordless sudo. */
  user: string;
  /** Default 22. */
  port: number;
  /** Private key for the SSH connection, as written into the manifest. Default `~/.ssh/id_ed25519`. */
  identity: string;
  /** Default `~/.ssh/known_hosts` (accept-new). */
  knownHosts: string;
  /** ssh-agent socket to try as well. Default: `SSH_AUTH_SOCK` when set. */
  agent?: string;
  repo: string;
  /** Default `main`. */
  branch: string;
  /** Default `5s`. */
  pollInterval: string;
  /** Default `/opt/orun/`. */
  dataDir: string;
  /** Default: none. */
  codeDir?: string;
  /** Node labels. Default: none. */
  labels: Record<string, string>;
  /** spec.allowedHostPaths. Default: none (the agent's built-in refusals only). */
  allowedHostPaths?: string[];
  /** spec.verifyCommits.allowedSigners (allowed-signers lines). Default: none (commits not verified). */
  allowedSigners?: string[];
  /** The local manifest repository `nodes/<name>.yaml` goes into. Default `.`. */
  out: string;
  /** Plan only: read the node, print what would change, change nothing. Default false. */
  dryRun: boolean;
  /** Overwrite an existing, different `nodes/<name>.yaml`. Default false. */
  force: boolean;
  /** apt-get install docker.io when Docker is missing (Debian/Ubuntu). Default false. */
  installDocker: boolean;
  /**
   * A local age key file to install as `<dataDir>/keys/age.key`. Default: none — a node without
   * one gets a new key (made here, uploaded; its public key is printed for `.sops.yaml`).
   */
  ageKey?: string;
  /** How long to wait for the agent's first sync after a (re)start. Default 120000 ms; 0 skips. */
  syncTimeoutMs?: number;
}

const CONTROL = /\p{Cc}/u;

function invalid(message: string, context: Record<string, unknown> = {}): OrunError {
  return new OrunError(BootstrapErrorCode.InvalidRequest, `bootstrap: ${message}`, { context });
}

/** Throws InvalidRequest for values no manifest or command should carry (control characters). */
export function checkRequest(req: BootstrapRequest): void {
  const fields: [string, string | undefined][] = [
    ['name', req.name],
    ['--host', req.host],
    ['--user', req.user],
    ['--identity', req.identity],
    ['--known-hosts', req.knownHosts],
    ['--repo', req.repo],
    ['--branch', req.branch],
    ['--data-dir', req.dataDir],
    ['--code-dir', req.codeDir],
    ['--age-key', req.ageKey],
    ...(req.allowedHostPaths ?? []).map((v): [string, string] => ['--allowed-host-path', v]),
    ...(req.allowedSigners ?? []).map((v): [string, string] => ['--allowed-signer', v]),
    ...Object.entries(req.labels).map(([k, v]): [string, string] => [`--label ${k}`, `${k}${v}`]),
  ];
  for (const [flag, value] of fields)
    if (value !== undefined && CONTROL.test(value))
      throw invalid(`${flag}: control characters are not allowed`);
  if (req.host.startsWith('-') || req.user.startsWith('-'))
    throw invalid('--host/--user must not start with "-"');
  if (!isPort(req.port)) throw invalid(`--port: expected 1-65535, got ${req.port}`);
}

/** `k=v` → [k, v] (for `--label`). */
export function parseLabel(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw invalid(`--label: expected key=value, got ${JSON.stringify(text)}`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** The repo-relative path of the manifest. */
export function manifestPath(name: string): string {
  return `nodes/${name}.yaml`;
}

/**
 * The `nodes/<name>.yaml` text for the request, decoded with the apis decoder first: throws
 * InvalidRequest with each problem as `file:line:col: field: message`.
 */
export function renderNodeManifest(req: BootstrapRequest): string {
  const spec: Record<string, unknown> = {
    host: req.host,
    user: req.user,
    sshPort: req.port,
    sshKeyPath: req.identity,
    gitRepo: req.repo,
    gitBranch: req.branch,
    pollInterval: req.pollInterval,
    dataDir: req.dataDir,
  };
  if (req.codeDir !== undefined) spec.codeDir = req.codeDir;
  if (req.allowedHostPaths !== undefined) spec.allowedHostPaths = req.allowedHostPaths;
  if (req.allowedSigners !== undefined) spec.verifyCommits = { allowedSigners: req.allowedSigners };
  const metadata: Record<string, unknown> = { name: req.name };
  if (Object.keys(req.labels).length > 0) metadata.labels = req.labels;
  const text =
    `# Written by \`orun bootstrap ${req.name}\`. Commit it; the node reads its settings from here.\n` +
    stringify({ apiVersion: API_VERSION, kind: 'Node', metadata, spec }, { lineWidth: 0 });
  const file = manifestPath(req.name);
  const { objects, errors } = decodeManifestFile(file, text);
  if (errors.length > 0 || objects.length !== 1)
    throw invalid(
      `the Node manifest does not validate:\n${errors.map((e) => `  ${e.format()}`).join('\n')}`,
      {
        file,
      },
    );
  return text;
}

/**
 * True when two Node manifest texts describe the same Node (name, labels, spec), whatever their
 * comments and layout: a hand-written `nodes/<name>.yaml` is left as it is.
 */
export function sameNode(a: string, b: string, file: string): boolean {
  const view = (text: string) => {
    const { objects, errors } = decodeManifestFile(file, text);
    const o = errors.length === 0 && objects.length === 1 ? objects[0] : undefined;
    return o && JSON.stringify([o.kind, o.metadata.name, o.metadata.labels ?? {}, o.spec]);
  };
  const va = view(a);
  return va !== undefined && va === view(b);
}

/** True for `ssh://`, `git+ssh://` and scp-like `user@host:path` remotes: they need a deploy key. */
export function isSshRepo(url: string): boolean {
  if (/^(ssh|git\+ssh):\/\//i.test(url)) return true;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || url.startsWith('/') || url.startsWith('.')) return false;
  return /^[^/:]+:/.test(url);
}

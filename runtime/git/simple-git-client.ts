/**
 * GitClient on the git CLI through simple-git.
 *
 * simple-git strips inherited GIT_* variables from the child environment; the few we set are
 * named in `allowEnvironment`, and GIT_SSH_COMMAND additionally needs
 * `unsafe.allowUnsafeSshCommand`. Every command runs with LC_ALL=C (stable stderr),
 * GIT_TERMINAL_PROMPT=0 and ssh BatchMode, so a missing credential fails instead of hanging.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { simpleGit } from 'simple-git';
import { OrunError, errorMessage } from '../../apis/errors.ts';
import { GitErrorCode, isValidBranchName, normalizeRemote } from './client.ts';
import type { GitClient, HeadCommit } from './client.ts';
import { redactUrls } from './redact.ts';

export interface SimpleGitClientOptions {
  /** Private key for ssh:// remotes (a deploy key). Default: ssh's own defaults (~/.ssh). */
  sshKeyPath?: string;
  /**
   * known_hosts file for ssh:// remotes; unknown hosts are added on first use
   * (StrictHostKeyChecking=accept-new), changed keys are refused. Default: ssh's own (~/.ssh).
   */
  knownHostsFile?: string;
  /** Kill a git command that produced no output for this long (ms). Default 120000. */
  timeoutMs?: number;
  /** git binary. Default `git` from PATH. */
  binary?: string;
}

const ALLOWED_ENV = ['GIT_SSH_COMMAND', 'GIT_TERMINAL_PROMPT'];

// simple-git refuses an explicit env holding these (they can run programs), so the ambient ones
// are dropped, as simple-git itself would drop them from an inherited environment.
function isGuardedEnvKey(key: string): boolean {
  const k = key.toLowerCase();
  return k.startsWith('git_') || ['editor', 'pager', 'prefix', 'ssh_askpass', 'visual'].includes(k);
}

export class SimpleGitClient implements GitClient {
  readonly #env: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #binary: string;
  readonly #knownHostsDir: string | undefined;

  constructor(options: SimpleGitClientOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#binary = options.binary ?? 'git';
    this.#knownHostsDir = options.knownHostsFile && dirname(options.knownHostsFile);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !isGuardedEnvKey(k)) env[k] = v;
    }
    this.#env = { ...env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', GIT_SSH_COMMAND: sshCommand(options) };
  }

  async lsRemote(remote: string, branch: string, signal?: AbortSignal): Promise<string | undefined> {
    const url = checkArgs(remote, branch);
    const ref = `refs/heads/${branch}`;
    // ssh only warns when it cannot record a new host key; make sure it can.
    if (this.#knownHostsDir) await mkdir(this.#knownHostsDir, { recursive: true }).catch(() => undefined);
    const out = await this.#run(GitErrorCode.LsRemoteFailed, `ls-remote ${url}`, tmpdir(), signal, [
      'ls-remote',
      url,
      ref,
    ]);
    for (const line of out.split('\n')) {
      const [sha, name] = line.trim().split('\t');
      if (name === ref && sha) return sha;
    }
    return undefined;
  }

  async cloneOrFetch(remote: string, branch: string, dir: string, signal?: AbortSignal): Promise<string> {
    const url = checkArgs(remote, branch);
    const code = GitErrorCode.FetchFailed;
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw new OrunError(code, `git: create checkout dir ${dir}: ${errorMessage(err)}`, { cause: err });
    }
    if (!existsSync(join(dir, '.git'))) {
      await this.#run(code, `init ${dir}`, dir, signal, ['init', '--quiet']);
    }
    // set-url fails when origin is missing; a reused checkout may also point at an old remote.
    const remotes = await this.#run(code, `list remotes in ${dir}`, dir, signal, ['remote']);
    const verb = remotes.split('\n').includes('origin') ? 'set-url' : 'add';
    await this.#run(code, `remote ${verb} origin`, dir, signal, ['remote', verb, 'origin', url]);
    await this.#run(code, `fetch ${url} ${branch}`, dir, signal, [
      'fetch',
      '--quiet',
      '--depth',
      '1',
      '--no-tags',
      'origin',
      `+refs/heads/${branch}`,
    ]);
    return (
      await this.#run(code, 'read FETCH_HEAD', dir, signal, ['rev-parse', 'FETCH_HEAD^{commit}'])
    ).trim();
  }

  async checkout(dir: string, sha: string, signal?: AbortSignal): Promise<void> {
    checkSha(sha);
    const code = GitErrorCode.CheckoutFailed;
    await this.#run(code, `checkout ${sha}`, dir, signal, [
      '-c',
      'advice.detachedHead=false',
      'checkout',
      '--quiet',
      '--force',
      '--detach',
      sha,
    ]);
    await this.#run(code, `clean ${dir}`, dir, signal, ['clean', '-ffdx', '--quiet']);
  }

  async headCommit(dir: string, signal?: AbortSignal): Promise<HeadCommit | undefined> {
    if (!existsSync(join(dir, '.git'))) return undefined;
    const code = GitErrorCode.HeadFailed;
    const hasHead = await this.#run(code, `read HEAD in ${dir}`, dir, signal, [
      'rev-parse',
      '--verify',
      '--quiet',
      'HEAD^{commit}',
    ]).catch(() => '');
    if (hasHead.trim() === '') return undefined;
    const out = await this.#run(code, `read HEAD in ${dir}`, dir, signal, [
      'log',
      '-1',
      '--format=%H%x00%an <%ae>%x00%cI%x00%B',
      'HEAD',
    ]);
    const [sha = '', author = '', time = '', message = ''] = out.split('\0');
    return { sha, author, time: new Date(time), message: message.replace(/\n+$/, '') };
  }

  async verifyCommit(
    dir: string,
    sha: string,
    allowedSignersFile: string,
    signal?: AbortSignal,
  ): Promise<void> {
    checkSha(sha);
    const code = GitErrorCode.SignatureInvalid;
    try {
      await this.#run(code, `verify signature of ${sha}`, dir, signal, [
        '-c',
        'gpg.format=ssh',
        '-c',
        `gpg.ssh.allowedSignersFile=${allowedSignersFile}`,
        'verify-commit',
        sha,
      ]);
    } catch (err) {
      // An unsigned commit fails silently (exit 1, no output): say what that means.
      const detail = err instanceof Error && err.cause instanceof Error ? err.cause.message.trim() : '';
      throw new OrunError(
        code,
        `git: verify signature of ${sha}: not signed by a key in ${allowedSignersFile} (${detail || 'no signature'})`,
        { cause: err },
      );
    }
  }

  async #run(code: string, step: string, baseDir: string, signal: AbortSignal | undefined, args: string[]) {
    const git = simpleGit({
      baseDir,
      binary: this.#binary,
      timeout: { block: this.#timeoutMs },
      allowEnvironment: ALLOWED_ENV,
      unsafe: { allowUnsafeSshCommand: true },
      // simple-git resolves a failing command that wrote nothing to stderr (verify-commit of an
      // unsigned commit does exactly that); every non-zero exit is a failure here.
      errors: (error, result) =>
        error ??
        (result.exitCode === 0
          ? undefined
          : Buffer.from(Buffer.concat(result.stdErr).toString().trim() || `exit code ${result.exitCode}`)),
      ...(signal ? { abort: signal } : {}),
    }).env(this.#env);
    try {
      return await git.raw(args);
    } catch (err) {
      const detail = redactUrls(
        errorMessage(err)
          .trim()
          .replace(/\s*\n\s*/g, '; '),
      );
      throw new OrunError(code, `git: ${redactUrls(step)}: ${detail}`, { cause: redactedCause(err) });
    }
  }
}

function checkArgs(remote: string, branch: string): string {
  if (remote === '' || remote.startsWith('-')) {
    throw new OrunError(GitErrorCode.InvalidOptions, `git: invalid remote '${redactUrls(remote)}'`);
  }
  if (!isValidBranchName(branch)) {
    throw new OrunError(GitErrorCode.InvalidOptions, `git: invalid branch name '${branch}'`);
  }
  return normalizeRemote(remote);
}

function checkSha(sha: string): void {
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha)) {
    throw new OrunError(GitErrorCode.InvalidOptions, `git: invalid commit id '${sha}'`);
  }
}

function sshCommand(options: SimpleGitClientOptions): string {
  const parts = ['ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new'];
  if (options.knownHostsFile) parts.push('-o', shellQuote(`UserKnownHostsFile=${options.knownHostsFile}`));
  if (options.sshKeyPath) parts.push('-o', 'IdentitiesOnly=yes', '-i', shellQuote(options.sshKeyPath));
  return parts.join(' ');
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// simple-git's error keeps the raw stderr (and so maybe a URL with credentials) in its message.
function redactedCause(err: unknown): Error {
  const e = new Error(redactUrls(errorMessage(err)));
  e.name = err instanceof Error ? err.name : 'Error';
  return e;
}

/**
 * GitClient on the git CLI, one child process per command (no shell, no library in between).
 *
 * Every command runs with LC_ALL=C (stable stderr), GIT_TERMINAL_PROMPT=0 and ssh BatchMode, so a
 * missing credential fails instead of hanging; inherited GIT_* variables and the ones that can run
 * programs (EDITOR, PAGER, SSH_ASKPASS …) are dropped. A command that wrote nothing for
 * `timeoutMs` is killed. Every non-zero exit is a failure (verify-commit of an unsigned commit exits
 * 1 without a word), reported with git's stderr, URL credentials redacted.
 *
 * Revisions are read from the object store: the fetched tip is kept in `refs/orun/fetched`,
 * `listTree` is `git ls-tree -r -l -z` and `readBlobs` one `git cat-file --batch` for all blobs.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { OrunError, errorMessage } from '../../apis/errors.ts';
import { FETCHED_REF, GitErrorCode, isValidBranchName, normalizeRemote, treeEntryKind } from './client.ts';
import type { GitClient, HeadCommit, TreeEntry } from './client.ts';
import { redactUrls } from './redact.ts';
import { shellQuote } from '../../apis/shell.ts';
import { ShellRunner, type ShellResult } from './shell.ts';

export interface GitCliClientOptions {
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

// These can make git run programs or change where it reads from; the agent sets its own.
function isGuardedEnvKey(key: string): boolean {
  const k = key.toLowerCase();
  return k.startsWith('git_') || ['editor', 'pager', 'prefix', 'ssh_askpass', 'visual'].includes(k);
}

const COMMIT_FORMAT = '--format=%H%x00%an <%ae>%x00%cI%x00%B';

export class GitCliClient implements GitClient {
  readonly #env: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #binary: string;
  readonly #knownHostsDir: string | undefined;
  /** The known-hosts dir was made: not again at every poll (a mkdir per second was 6 % of an idle agent). */
  #knownHostsMade = false;
  readonly #shell: ShellRunner;

  constructor(options: GitCliClientOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#binary = options.binary ?? 'git';
    this.#knownHostsDir = options.knownHostsFile && dirname(options.knownHostsFile);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !isGuardedEnvKey(k)) env[k] = v;
    }
    this.#env = { ...env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', GIT_SSH_COMMAND: sshCommand(options) };
    this.#shell = new ShellRunner(this.#env, tmpdir());
  }

  async lsRemote(remote: string, branch: string, signal?: AbortSignal): Promise<string | undefined> {
    const url = checkArgs(remote, branch);
    const ref = `refs/heads/${branch}`;
    // ssh only warns when it cannot record a new host key; make sure it can.
    if (this.#knownHostsDir && !this.#knownHostsMade)
      this.#knownHostsMade = await mkdir(this.#knownHostsDir, { recursive: true }).then(
        () => true,
        () => false,
      );
    const out = await this.#lsRemoteOutput(url, ref, signal);
    for (const line of out.split('\n')) {
      const [sha, name] = line.trim().split('\t');
      if (name === ref && sha) return sha;
    }
    return undefined;
  }

  /** The poll runs through the long-lived shell (see shell.ts); spawned directly if that fails. */
  async #lsRemoteOutput(url: string, ref: string, signal?: AbortSignal): Promise<string> {
    const code = GitErrorCode.LsRemoteFailed;
    const step = `ls-remote ${url}`;
    let r: ShellResult;
    try {
      r = await this.#shell.run([this.#binary, 'ls-remote', url, ref], this.#timeoutMs, signal);
    } catch {
      if (signal?.aborted) throw new OrunError(code, `git: ${redactUrls(step)}: aborted`);
      return this.#text(code, step, tmpdir(), signal, ['ls-remote', url, ref]);
    }
    if (r.code === 0) return r.output;
    const detail = redactUrls(r.output.trim().replace(/\s*\n\s*/g, '; ') || `exit code ${r.code}`);
    throw new OrunError(code, `git: ${redactUrls(step)}: ${detail}`, {
      context: { stderr: redactUrls(r.output) },
    });
  }

  /** Ends the shell the polls run in (it also ends with this process). */
  close(): void {
    this.#shell.close();
  }

  async cloneOrFetch(remote: string, branch: string, dir: string, signal?: AbortSignal): Promise<HeadCommit> {
    const url = checkArgs(remote, branch);
    const code = GitErrorCode.FetchFailed;
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw new OrunError(code, `git: create checkout dir ${dir}: ${errorMessage(err)}`, { cause: err });
    }
    if (!existsSync(join(dir, '.git'))) {
      await this.#text(code, `init ${dir}`, dir, signal, ['init', '--quiet']);
    }
    // Fetched by URL into our own ref: no remote config to keep in step, one process.
    await this.#text(code, `fetch ${url} ${branch}`, dir, signal, [
      'fetch',
      '--quiet',
      '--depth',
      '1',
      '--no-tags',
      '--no-write-fetch-head',
      url,
      `+refs/heads/${branch}:${FETCHED_REF}`,
    ]);
    const head = await this.#log(code, dir, FETCHED_REF, signal);
    if (head === undefined)
      throw new OrunError(code, `git: fetch ${redactUrls(url)} ${branch}: nothing fetched`);
    return head;
  }

  async commit(dir: string, rev: string, signal?: AbortSignal): Promise<HeadCommit | undefined> {
    if (!existsSync(join(dir, '.git'))) return undefined;
    if (rev.startsWith('-'))
      throw new OrunError(GitErrorCode.InvalidOptions, `git: invalid revision '${rev}'`);
    const exists = await this.#text(GitErrorCode.HeadFailed, `read ${rev}`, dir, signal, [
      'rev-parse',
      '--verify',
      '--quiet',
      `${rev}^{commit}`,
    ]).then(
      () => true,
      () => false, // no such commit (no HEAD yet, never fetched) is an answer, not a failure
    );
    return exists ? this.#log(GitErrorCode.HeadFailed, dir, rev, signal) : undefined;
  }

  /** The commit `rev` names, with author, time and message, in one process. */
  async #log(code: string, dir: string, rev: string, signal?: AbortSignal): Promise<HeadCommit | undefined> {
    const out = await this.#text(code, `read ${rev} in ${dir}`, dir, signal, [
      'log',
      '-1',
      '--no-walk',
      COMMIT_FORMAT,
      `${rev}^{commit}`,
      '--',
    ]);
    const [sha = '', author = '', time = '', message = ''] = out.split('\0');
    if (sha === '') return undefined;
    return { sha, author, time: new Date(time), message: message.replace(/\n+$/, '') };
  }

  async listTree(
    dir: string,
    sha: string,
    paths: readonly string[],
    signal?: AbortSignal,
  ): Promise<TreeEntry[]> {
    checkSha(sha);
    if (paths.length === 0) return [];
    const out = await this.#run(GitErrorCode.ReadFailed, `list tree of ${sha}`, dir, signal, [
      '--literal-pathspecs',
      'ls-tree',
      '-r',
      '-l',
      '-z',
      '--full-tree',
      sha,
      '--',
      ...paths,
    ]);
    const entries: TreeEntry[] = [];
    for (const rec of out.toString('utf8').split('\0')) {
      if (rec === '') continue;
      // <mode> SP <type> SP <object> SP+ <size> TAB <path>
      const tab = rec.indexOf('\t');
      const [mode = '', , oid = '', size = '-'] = rec.slice(0, tab).split(/ +/);
      entries.push({
        path: rec.slice(tab + 1),
        mode,
        kind: treeEntryKind(mode),
        oid,
        size: size === '-' ? 0 : Number(size),
      });
    }
    return entries;
  }

  async readBlobs(dir: string, oids: readonly string[], signal?: AbortSignal): Promise<Map<string, Buffer>> {
    const unique = [...new Set(oids)];
    for (const oid of unique) checkSha(oid);
    const blobs = new Map<string, Buffer>();
    if (unique.length === 0) return blobs;
    const out = await this.#run(
      GitErrorCode.ReadFailed,
      `read ${unique.length} blob(s)`,
      dir,
      signal,
      ['cat-file', '--batch'],
      `${unique.join('\n')}\n`,
    );
    // <oid> SP <type> SP <size> LF <contents> LF, or <oid> SP missing LF
    let at = 0;
    while (at < out.length) {
      const nl = out.indexOf(10, at);
      if (nl < 0) break;
      const [oid = '', type = '', size = ''] = out.toString('utf8', at, nl).split(' ');
      if (type === 'missing' || size === '') {
        throw new OrunError(GitErrorCode.ReadFailed, `git: read blob ${oid}: not in the object store`);
      }
      const n = Number(size);
      blobs.set(oid, out.subarray(nl + 1, nl + 1 + n));
      at = nl + 1 + n + 1;
    }
    return blobs;
  }

  async checkout(dir: string, sha: string, signal?: AbortSignal): Promise<void> {
    checkSha(sha);
    const code = GitErrorCode.CheckoutFailed;
    await this.#text(code, `checkout ${sha}`, dir, signal, [
      '-c',
      'advice.detachedHead=false',
      'checkout',
      '--quiet',
      '--force',
      '--detach',
      sha,
    ]);
    await this.#text(code, `clean ${dir}`, dir, signal, ['clean', '-ffdx', '--quiet']);
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
      await this.#text(code, `verify signature of ${sha}`, dir, signal, [
        '-c',
        'gpg.format=ssh',
        '-c',
        `gpg.ssh.allowedSignersFile=${allowedSignersFile}`,
        'verify-commit',
        sha,
      ]);
    } catch (err) {
      // An unsigned commit fails silently (exit 1, no output): say what that means.
      const stderr = err instanceof OrunError ? err.context.stderr : undefined;
      const detail = typeof stderr === 'string' ? stderr.trim() : '';
      throw new OrunError(
        code,
        `git: verify signature of ${sha}: not signed by a key in ${allowedSignersFile} (${detail || 'no signature'})`,
        { cause: err },
      );
    }
  }

  async #text(
    code: string,
    step: string,
    cwd: string,
    signal: AbortSignal | undefined,
    args: string[],
  ): Promise<string> {
    return (await this.#run(code, step, cwd, signal, args)).toString('utf8');
  }

  /** Runs git; resolves with stdout, rejects with OrunError(code) on any failure. */
  #run(
    code: string,
    step: string,
    cwd: string,
    signal: AbortSignal | undefined,
    args: string[],
    input?: string,
  ): Promise<Buffer> {
    const fail = (detail: string, stderr = '', cause?: unknown): OrunError => {
      const text = redactUrls(detail.trim().replace(/\s*\n\s*/g, '; '));
      return new OrunError(code, `git: ${redactUrls(step)}: ${text}`, {
        ...(cause === undefined ? {} : { cause: redactedCause(cause) }),
        context: { stderr: redactUrls(stderr) },
      });
    };
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(fail('aborted'));
        return;
      }
      const child = spawn(this.#binary, args, {
        cwd,
        env: this.#env,
        stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timer: NodeJS.Timeout | undefined;
      let why: string | undefined;
      const kill = (reason: string): void => {
        why ??= reason;
        child.kill('SIGKILL');
      };
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => kill(`no output for ${this.#timeoutMs} ms; killed`), this.#timeoutMs);
      };
      const onAbort = (): void => kill('aborted');
      arm();
      signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout?.on('data', (b: Buffer) => {
        out.push(b);
        arm();
      });
      child.stderr?.on('data', (b: Buffer) => {
        err.push(b);
        arm();
      });
      if (input !== undefined && child.stdin) {
        child.stdin.on('error', () => undefined); // EPIPE when git exits early; the exit code says why
        child.stdin.end(input);
      }
      const settle = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      child.on('error', (e) => {
        settle();
        reject(fail(errorMessage(e), '', e));
      });
      child.on('close', (exitCode, exitSignal) => {
        settle();
        const stderr = Buffer.concat(err).toString('utf8');
        if (why !== undefined) reject(fail(why, stderr));
        else if (exitCode === 0) resolve(Buffer.concat(out));
        else reject(fail(stderr.trim() || `exit code ${exitCode ?? exitSignal ?? '?'}`, stderr));
      });
    });
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
    throw new OrunError(GitErrorCode.InvalidOptions, `git: invalid object id '${sha}'`);
  }
}

function sshCommand(options: GitCliClientOptions): string {
  const parts = ['ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new'];
  if (options.knownHostsFile)
    parts.push('-o', shellQuote(`UserKnownHostsFile=${options.knownHostsFile}`, { always: true }));
  if (options.sshKeyPath)
    parts.push('-o', 'IdentitiesOnly=yes', '-i', shellQuote(options.sshKeyPath, { always: true }));
  return parts.join(' ');
}

function redactedCause(err: unknown): Error {
  const e = new Error(redactUrls(errorMessage(err)));
  e.name = err instanceof Error ? err.name : 'Error';
  return e;
}

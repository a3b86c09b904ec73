/**
 * GitClient on the git CLI, one child process per command (no shell, no library in between).
 *
 * Every command runs with LC_ALL=C (stable stderr), GIT_TERMINAL_PROMPT=0 and ssh BatchMode, so a
 * missing credential fails instead of hanging; inherited GIT_* variables and the ones that can run
 * programs (EDITOR, PAGER, SSH_ASKPASS …) are dropped. A command that wrote nothing for
 * `timeoutMs` is killed. Every non-zero exit is a failure (verify-commit of an unsigned commit exits
 * 1 without a word), reported with git's stderr, URL credentials redacted.
 *
 * Revisions are read from the object store: the fetched tip is kept in `refs/orun/fetched`; the
 * commit, its trees, the blobs' sizes and contents are read through one `git cat-file
 * --batch-command` per repository dir (cat-file.ts), kept while reads come and ended when idle. A
 * git older than 2.36 (no `--batch-command`) gets `git log`, `git ls-tree -r -l -z` and one
 * `git cat-file --batch` instead.
 *
 * A fetch runs without git's auto maintenance (`--no-auto-gc`: `git maintenance run --auto` is one more process on
 * the way to a new revision); every MAINTAIN_EVERY-th fetch runs it, so the loose objects and
 * packs of many small fetches are still repacked.
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
import { CatFile, CatFileUnsupported, type CatFileObject } from './cat-file.ts';

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
  /** End a repository's `git cat-file` after this long without a read (ms). Default 5000. */
  catFileIdleMs?: number;
}

/** Fetches between two runs of git's auto maintenance (it decides itself whether to repack). */
export const MAINTAIN_EVERY = 16;

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
  readonly #catFileIdleMs: number;
  /** One `git cat-file --batch-command` per repository dir. */
  readonly #catFiles = new Map<string, CatFile>();
  /** False once git said it has no `--batch-command` (older than 2.36). */
  #batchCommand = true;
  #fetches = 0;

  constructor(options: GitCliClientOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#catFileIdleMs = options.catFileIdleMs ?? 5000;
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

  /** Ends the shell the polls run in and the cat-file readers (they also end with this process). */
  close(): void {
    this.#shell.close();
    for (const c of this.#catFiles.values()) c.close();
    this.#catFiles.clear();
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
    const maintain = ++this.#fetches % MAINTAIN_EVERY === 0;
    await this.#text(code, `fetch ${url} ${branch}`, dir, signal, [
      'fetch',
      ...(maintain ? [] : ['--no-auto-gc']),
      '--quiet',
      '--depth',
      '1',
      '--no-tags',
      '--no-write-fetch-head',
      url,
      `+refs/heads/${branch}:${FETCHED_REF}`,
    ]);
    const head = await this.#readCommit(code, dir, FETCHED_REF, signal);
    if (head === undefined)
      throw new OrunError(code, `git: fetch ${redactUrls(url)} ${branch}: nothing fetched`);
    return head;
  }

  async commit(dir: string, rev: string, signal?: AbortSignal): Promise<HeadCommit | undefined> {
    if (!existsSync(join(dir, '.git'))) return undefined;
    if (rev.startsWith('-') || rev.includes('\n'))
      throw new OrunError(GitErrorCode.InvalidOptions, `git: invalid revision '${rev}'`);
    const batch = await this.#batch(GitErrorCode.HeadFailed, `read ${rev} in ${dir}`, dir, (c) =>
      c.contents([`${rev}^{commit}`], signal),
    );
    if (batch !== undefined) {
      const [obj] = batch;
      return obj?.data === undefined
        ? undefined
        : (parseCommit(obj.oid, obj.data) ?? this.#log(GitErrorCode.HeadFailed, dir, rev, signal));
    }
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

  /**
   * Runs `fn` on the dir's cat-file reader; undefined when this git has none (the caller falls
   * back to one process per step). Any other failure rejects with OrunError(code).
   */
  async #batch<T>(
    code: string,
    step: string,
    dir: string,
    fn: (c: CatFile) => Promise<T>,
  ): Promise<T | undefined> {
    if (!this.#batchCommand) return undefined;
    let c = this.#catFiles.get(dir);
    if (c === undefined) {
      c = new CatFile(this.#binary, dir, this.#env, this.#timeoutMs, this.#catFileIdleMs);
      this.#catFiles.set(dir, c);
    }
    try {
      return await fn(c);
    } catch (err) {
      if (err instanceof CatFileUnsupported) {
        this.#batchCommand = false;
        return undefined;
      }
      throw new OrunError(code, `git: ${redactUrls(step)}: ${redactUrls(errorMessage(err))}`, {
        cause: redactedCause(err),
      });
    }
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

  /** The commit `rev` names, through the cat-file reader (or `git log`). */
  async #readCommit(
    code: string,
    dir: string,
    rev: string,
    signal?: AbortSignal,
  ): Promise<HeadCommit | undefined> {
    const batch = await this.#batch(code, `read ${rev} in ${dir}`, dir, (c) =>
      c.contents([`${rev}^{commit}`], signal),
    );
    if (batch === undefined) return this.#log(code, dir, rev, signal);
    const [obj] = batch;
    if (obj?.data === undefined) return undefined;
    return parseCommit(obj.oid, obj.data) ?? this.#log(code, dir, rev, signal);
  }

  async listTree(
    dir: string,
    sha: string,
    paths: readonly string[],
    signal?: AbortSignal,
  ): Promise<TreeEntry[]> {
    checkSha(sha);
    if (paths.length === 0) return [];
    const code = GitErrorCode.ReadFailed;
    const batch = await this.#batch(code, `list tree of ${sha}`, dir, (c) => walkTree(c, sha, paths, signal));
    if (batch !== undefined) return batch;
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
    const code = GitErrorCode.ReadFailed;
    const batch = await this.#batch(code, `read ${unique.length} blob(s)`, dir, (c) =>
      c.contents(unique, signal),
    );
    if (batch !== undefined) {
      batch.forEach((o, i) => {
        if (o?.data === undefined)
          throw new OrunError(code, `git: read blob ${unique[i]}: not in the object store`);
        blobs.set(o.oid, o.data);
      });
      return blobs;
    }
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

/**
 * A raw commit object as `git log --format=%H%x00%an <%ae>%x00%cI%x00%B` gives it: the author's
 * `Name <email>`, the committer time, the message. Undefined for a message in another encoding
 * (an `encoding` header: git log re-encodes it; the caller asks git log).
 */
export function parseCommit(sha: string, raw: Buffer): HeadCommit | undefined {
  const text = raw.toString('utf8');
  const end = text.indexOf('\n\n');
  const headers = end < 0 ? text : text.slice(0, end);
  let author = '';
  let time = new Date(NaN);
  for (const line of headers.split('\n')) {
    if (line.startsWith('author ')) author = line.slice(7, line.lastIndexOf('>') + 1);
    else if (line.startsWith('committer ')) {
      const [ts = ''] = line.slice(line.lastIndexOf('>') + 2).split(' ');
      time = new Date(Number(ts) * 1000);
    } else if (line.startsWith('encoding ') && !/^utf-?8$/i.test(line.slice(9).trim())) return undefined;
  }
  const message = end < 0 ? '' : text.slice(end + 2).replace(/\n+$/, '');
  return { sha, author, time, message };
}

/**
 * `git ls-tree -r -l --full-tree <sha> -- <paths>` through the cat-file reader: the trees level by
 * level (one request per level), then the sizes of all blobs in one request. Sorted by path.
 */
async function walkTree(
  c: CatFile,
  sha: string,
  paths: readonly string[],
  signal?: AbortSignal,
): Promise<TreeEntry[]> {
  const wanted = paths.map((p) => p.replace(/\/+$/, ''));
  const [root] = await c.contents([`${sha}^{tree}`], signal);
  if (root?.data === undefined) throw new Error(`tree of ${sha}: not in the object store`);
  const rawOid = root.oid.length / 2;
  const entries: TreeEntry[] = [];
  let level: { prefix: string; data: Buffer; full: boolean }[] = [
    { prefix: '', data: root.data, full: false },
  ];
  while (level.length > 0) {
    const next: { path: string; oid: string; full: boolean }[] = [];
    for (const t of level) {
      let at = 0;
      while (at < t.data.length) {
        const sp = t.data.indexOf(32, at);
        const nul = t.data.indexOf(0, sp);
        if (sp < 0 || nul < 0) throw new Error('malformed tree object');
        const mode = t.data.toString('latin1', at, sp);
        const path = t.prefix + t.data.toString('utf8', sp + 1, nul);
        const oid = t.data.toString('hex', nul + 1, nul + 1 + rawOid);
        at = nul + 1 + rawOid;
        const full = t.full || wanted.includes(path);
        if (mode === '40000') {
          if (full || wanted.some((w) => w.startsWith(`${path}/`))) next.push({ path, oid, full });
        } else if (full) {
          entries.push({ path, mode, kind: treeEntryKind(mode), oid, size: 0 });
        }
      }
    }
    const trees = await c.contents(
      next.map((n) => n.oid),
      signal,
    );
    level = next.map((n, i) => {
      const data = trees[i]?.data;
      if (data === undefined) throw new Error(`tree ${n.oid} (${n.path}): not in the object store`);
      return { prefix: `${n.path}/`, data, full: n.full };
    });
  }
  const sized = entries.filter((e) => e.kind !== 'submodule');
  const infos: (CatFileObject | undefined)[] = await c.info(
    sized.map((e) => e.oid),
    signal,
  );
  sized.forEach((e, i) => {
    const info = infos[i];
    if (info === undefined) throw new Error(`blob ${e.oid} (${e.path}): not in the object store`);
    e.size = info.size;
  });
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
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

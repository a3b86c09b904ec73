/**
 * GitSource: the informer's source. It keeps the fetched tip of one branch of one remote current
 * and emits a revision each time that commit changes. A revision's files are read from Git's
 * object store (`files`), not from a work tree, so each revision is consistent by construction and
 * a symbolic link in the tree is never followed.
 *
 * Every poll runs a cheap `git ls-remote <remote> refs/heads/<branch>`; only when the tip differs
 * from the current commit does it fetch (depth 1, one git process), so a force-push or a branch
 * moved backwards is followed like any other change. A repository dir left by a previous run whose
 * fetched tip already equals the remote's is adopted without any fetch. A work tree is checked out
 * only on demand (`checkout(commit)`), for what needs files on disk.
 *
 * Level-based: the branch and the poll interval may be functions, read at every poll (the agent
 * reads them from the Node manifest in the store), so a change applies at the next poll and
 * nothing is torn down. A branch change is followed like a moved tip: the new branch's tip is
 * fetched into the same repository dir and emitted as a revision of that branch.
 *
 * Failures never end the loop: the last revision stays current, status turns not-ready with
 * git's message (credentials redacted), and the next attempt backs off exponentially from the
 * poll interval up to `maxBackoff`, back to the poll interval after a success.
 */
import { dirname, resolve } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { Observable, ReplaySubject } from 'rxjs';
import { OrunError, errorMessage, isOrunError } from '../../apis/errors.ts';
import { FETCHED_REF, GitErrorCode, formatRevision } from './client.ts';
import type { GitClient, HeadCommit } from './client.ts';
import { GitCliClient } from './cli-client.ts';
import { RevisionFiles } from './files.ts';
import { realClock } from '../clock/index.ts';
import type { Clock } from '../clock/index.ts';
import { GitMetrics } from './metrics.ts';
import type { GitOperation } from './metrics.ts';
import { redactUrls } from './redact.ts';

export interface GitSourceOptions {
  /** `file://…`, a local path, `ssh://…` or `https://…` (userinfo is never logged). Required. */
  remote: string;
  /** Branch to track, or a function read at every poll. Default `main`. */
  branch?: string | (() => string);
  /** Repository dir (under the data dir); created on first sync, reused across restarts. Required. */
  dir: string;
  /** Time between ref checks when healthy, in ms, or a function read before every wait. Default 5000 (the Node's `pollInterval: 5s`). */
  pollInterval?: number | (() => number);
  /** Upper bound of the retry backoff after failures, in ms. Default 300000 (5 min). */
  maxBackoff?: number;
  /** Deploy key for ssh:// remotes, used via GIT_SSH_COMMAND. Default: none (ssh's defaults). */
  sshKeyPath?: string;
  /** known_hosts for ssh:// remotes (new hosts accepted once, changed keys refused). Default `<dirname(dir)>/known_hosts`. */
  knownHostsFile?: string;
  /**
   * Refuse commits not signed (SSH signatures) by a key in this allowed signers file. A function
   * is asked at every fetched commit (CommitTrust.verify: the flag, or the signers the last applied
   * Node declared). Default: no verification.
   */
  verify?: CommitVerification | (() => CommitVerification | undefined);
  /** Default: a GitCliClient configured with sshKeyPath and knownHostsFile. */
  client?: GitClient;
  /** Default: the system clock. */
  clock?: Clock;
  /** Default: a silent logger. */
  logger?: Logger;
  /** Registry for the `orun_git_*` metrics. Default: a private registry (never the global one). */
  registry?: Registry;
}

/** How a fetched commit is verified: `git verify-commit` with this allowed signers file. */
export interface CommitVerification {
  allowedSignersFile: string;
}

/** One fetched commit. */
export interface GitRevision {
  /** `<branch>@sha1:<sha>`, as Flux writes artifact revisions. */
  revision: string;
  commit: string;
  branch: string;
  /** The repository dir (its work tree holds this commit only after `checkout(commit)`). */
  dir: string;
  message: string;
  author: string;
  time: Date;
  /** This commit's files, read from the object store. */
  files: RevisionFiles;
}

/** `status().reason` values (CamelCase, for a `GitSynced` condition). */
export const GitSourceReason = {
  /** No attempt has finished yet. */
  Progressing: 'Progressing',
  /** The fetched commit equals the remote tip. */
  Succeeded: 'Succeeded',
  /** A git operation failed (remote unreachable, auth, fetch). */
  GitOperationFailed: 'GitOperationFailed',
  /** The tracked branch does not exist on the remote. */
  BranchNotFound: 'BranchNotFound',
  /** `verify` is set and the tip is unsigned or signed by a key not allowed. */
  InvalidCommitSignature: 'InvalidCommitSignature',
} as const;
export type GitSourceReason = (typeof GitSourceReason)[keyof typeof GitSourceReason];

export interface GitSourceStatus {
  /** True when the last attempt succeeded (the fetched commit equals the remote tip). */
  ready: boolean;
  reason: GitSourceReason;
  message: string;
  lastSuccessTime?: Date;
  lastAttemptTime?: Date;
  /** The current revision; kept through failures. */
  revision?: string;
  consecutiveFailures: number;
}

/** OrunError codes the source itself throws (git operation codes are in GitErrorCode). */
export const GitSourceErrorCode = {
  AlreadyStarted: 'GitSourceAlreadyStarted',
  Stopped: 'GitSourceStopped',
} as const;

export class GitSource {
  readonly remote: string;
  readonly dir: string;
  /** Every new revision; a late subscriber gets the current one first. Completes on stop. */
  readonly revisions$: Observable<GitRevision>;
  /** Resolves after the first successful sync; rejects with GitSourceStopped if stopped before. */
  readonly synced: Promise<void>;
  /**
   * Resolves when the first attempt has finished, whether it fetched a revision or failed (the
   * remote unreachable, the tip's signature refused), or when the source stops before one.
   */
  readonly attempted: Promise<void>;

  readonly #client: GitClient;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: GitMetrics;
  readonly #branch: () => string;
  readonly #pollInterval: () => number;
  /** The branch the last poll tracked (read from `branch` at each poll). */
  #tracked: string;
  readonly #maxBackoff: number;
  readonly #verify: GitSourceOptions['verify'];
  readonly #revisions = new ReplaySubject<GitRevision>(1);
  #resolveSynced!: () => void;
  #rejectSynced!: (err: unknown) => void;
  #resolveAttempted!: () => void;

  #started = false;
  #stopped = false;
  #current: GitRevision | undefined;
  #rejectedSha: { sha: string; error: OrunError } | undefined;
  #status: GitSourceStatus = {
    ready: false,
    reason: GitSourceReason.Progressing,
    message: 'waiting for the first sync',
    consecutiveFailures: 0,
  };
  #waiters: ((s: GitSourceStatus) => void)[] = [];
  /** The commit the work tree holds (undefined: unknown, e.g. none yet or from a previous run). */
  #workTree: string | undefined;
  #checkoutChain: Promise<unknown> = Promise.resolve();
  #wakeRequested = false;
  #wake: (() => void) | undefined;

  constructor(options: GitSourceOptions) {
    this.remote = options.remote;
    const branch = options.branch ?? 'main';
    this.#branch = typeof branch === 'function' ? branch : () => branch;
    this.#tracked = this.#branch();
    this.dir = resolve(options.dir);
    const poll = options.pollInterval ?? 5000;
    this.#pollInterval = typeof poll === 'function' ? poll : () => poll;
    this.#maxBackoff = options.maxBackoff ?? 300_000;
    this.#verify = options.verify;
    this.#clock = options.clock ?? realClock;
    this.#metrics = new GitMetrics(options.registry ?? new Registry());
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({
      component: 'git-source',
      remote: redactUrls(this.remote),
    });
    this.#client =
      options.client ??
      new GitCliClient({
        knownHostsFile: options.knownHostsFile ?? resolve(dirname(this.dir), 'known_hosts'),
        ...(options.sshKeyPath ? { sshKeyPath: options.sshKeyPath } : {}),
      });
    this.revisions$ = this.#revisions.asObservable();
    this.synced = new Promise<void>((res, rej) => {
      this.#resolveSynced = res;
      this.#rejectSynced = rej;
    });
    // Nobody may be listening when the source stops before its first sync.
    this.synced.catch(() => undefined);
    this.attempted = new Promise<void>((res) => (this.#resolveAttempted = res));
  }

  /** Polls until `signal` aborts. Call once. Never rejects because of git failures. */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#started) {
      throw new OrunError(GitSourceErrorCode.AlreadyStarted, 'git source: start: already started');
    }
    this.#started = true;
    this.#log.info(
      { dir: this.dir, branch: this.#tracked, pollIntervalMs: this.#pollInterval() },
      'git source starting',
    );
    try {
      while (!signal.aborted) {
        const waiters = this.#waiters.splice(0);
        await this.#attempt(signal);
        this.#resolveAttempted();
        for (const w of waiters) w(this.status());
        await this.#wait(this.#nextDelay(), signal);
      }
    } finally {
      this.#stopped = true;
      this.#resolveAttempted();
      for (const w of this.#waiters.splice(0)) w(this.status());
      this.#revisions.complete();
      this.#rejectSynced(
        new OrunError(GitSourceErrorCode.Stopped, 'git source: stopped before the first sync'),
      );
      this.#log.info('git source stopped');
    }
  }

  /**
   * Polls now instead of at the next interval; resolves with the status after that attempt
   * (before start: after the first attempt; after stop: at once, with the last status).
   */
  syncNow(): Promise<GitSourceStatus> {
    if (this.#stopped) return Promise.resolve(this.status());
    return new Promise((res) => {
      this.#waiters.push(res);
      this.#wakeRequested = true;
      this.#wake?.();
    });
  }

  /** True once a sync has succeeded. */
  hasSynced(): boolean {
    return this.#current !== undefined;
  }

  /**
   * Checks out a work tree of `commit` (an already fetched one) in `dir`, for what needs files on
   * disk; one checkout at a time, none when the work tree already holds it. Resolves with `dir`;
   * rejects with `GitCheckoutFailed`.
   */
  checkout(commit: string, signal?: AbortSignal): Promise<string> {
    const run = async (): Promise<string> => {
      if (this.#workTree !== commit) {
        this.#workTree = undefined;
        await this.#timed('checkout', () => this.#client.checkout(this.dir, commit, signal));
        this.#workTree = commit;
      }
      return this.dir;
    };
    const next = this.#checkoutChain.then(run, run);
    this.#checkoutChain = next.catch(() => undefined);
    return next;
  }

  /** The commit the work tree holds, when `checkout` put it there. */
  workTree(): string | undefined {
    return this.#workTree;
  }

  /** The branch tracked now (the one the last poll read; the next poll reads it again). */
  get branch(): string {
    return this.#tracked;
  }

  /** The current revision, if any. */
  current(): GitRevision | undefined {
    return this.#current;
  }

  status(): GitSourceStatus {
    return { ...this.#status };
  }

  async #attempt(signal: AbortSignal): Promise<void> {
    const started = this.#clock.now();
    this.#status.lastAttemptTime = new Date(started);
    this.#metrics.polls.inc();
    let changed: GitRevision | undefined;
    try {
      changed = await this.#sync(signal);
    } catch (err) {
      if (signal.aborted) return;
      this.#fail(err);
      return;
    }
    const recovered = this.#status.consecutiveFailures > 0;
    const now = this.#clock.now();
    const revision = this.#current?.revision ?? '';
    this.#status = {
      ...this.#status,
      ready: true,
      reason: GitSourceReason.Succeeded,
      message: `fetched revision '${revision}'`,
      lastSuccessTime: new Date(now),
      revision,
      consecutiveFailures: 0,
    };
    this.#metrics.lastSuccess.set(now / 1000);
    this.#metrics.consecutiveFailures.set(0);
    if (recovered) this.#log.info({ revision }, 'git sync recovered');
    // Emitted after the status update, so a subscriber reading status() sees this revision.
    if (changed) {
      this.#revisions.next(changed);
      this.#resolveSynced();
    }
  }

  /** One poll; returns the new revision when the tip changed. */
  async #sync(signal: AbortSignal): Promise<GitRevision | undefined> {
    const client = this.#client;
    const branch = this.#branch();
    if (branch !== this.#tracked) {
      this.#log.info({ from: this.#tracked, to: branch }, 'tracked branch changed; following it');
      this.#tracked = branch;
    }
    const tip = await this.#timed('ls-remote', () => client.lsRemote(this.remote, branch, signal));
    if (tip === undefined) {
      throw new OrunError(
        GitErrorCode.BranchNotFound,
        `git: ls-remote ${redactUrls(this.remote)}: branch '${branch}' not found`,
      );
    }
    if (tip === this.#current?.commit && branch === this.#current.branch) return undefined;
    if (tip === this.#rejectedSha?.sha) throw this.#rejectedSha.error;

    let head: HeadCommit | undefined;
    if (this.#current === undefined) {
      head = await this.#fetchedOrUndefined(signal);
      if (head?.sha === tip) this.#log.info({ commit: tip }, 'reusing the commit fetched by a previous run');
    }
    if (head?.sha !== tip) {
      head = await this.#timed('fetch', () => client.cloneOrFetch(this.remote, branch, this.dir, signal));
    }
    const sha = head.sha;
    const verify = typeof this.#verify === 'function' ? this.#verify() : this.#verify;
    if (verify) await this.#verifyCommit(sha, verify.allowedSignersFile, signal);
    else this.#rejectedSha = undefined;
    const rev: GitRevision = {
      revision: formatRevision(branch, sha),
      commit: sha,
      branch,
      dir: this.dir,
      message: head.message,
      author: head.author,
      time: head.time,
      files: new RevisionFiles(client, this.dir, sha, (fn) => this.#timed('read', fn)),
    };
    this.#current = rev;
    this.#metrics.setRevision(branch, rev.revision);
    this.#log.info({ revision: rev.revision, subject: rev.message.split('\n')[0] }, 'fetched new revision');
    return rev;
  }

  async #verifyCommit(sha: string, allowedSignersFile: string, signal: AbortSignal): Promise<void> {
    try {
      await this.#timed('verify', () => this.#client.verifyCommit(this.dir, sha, allowedSignersFile, signal));
      this.#rejectedSha = undefined;
    } catch (err) {
      if (isOrunError(err, GitErrorCode.SignatureInvalid)) this.#rejectedSha = { sha, error: err };
      throw err;
    }
  }

  async #fetchedOrUndefined(signal: AbortSignal): Promise<HeadCommit | undefined> {
    try {
      return await this.#client.commit(this.dir, FETCHED_REF, signal);
    } catch {
      return undefined; // an unreadable old repository is simply fetched into again
    }
  }

  async #timed<T>(operation: GitOperation, fn: () => Promise<T>): Promise<T> {
    const end = this.#metrics.duration.startTimer({ operation });
    try {
      return await fn();
    } catch (err) {
      this.#metrics.errors.inc({ operation });
      throw err;
    } finally {
      end();
    }
  }

  #fail(err: unknown): void {
    const code = isOrunError(err) ? err.code : 'GitUnexpectedError';
    const failures = this.#status.consecutiveFailures + 1;
    const message = redactUrls(errorMessage(err));
    this.#status = {
      ...this.#status,
      ready: false,
      reason: reasonFor(code),
      message,
      consecutiveFailures: failures,
    };
    this.#metrics.consecutiveFailures.set(failures);
    this.#log.warn(
      {
        code,
        err: message,
        branch: this.#tracked,
        consecutiveFailures: failures,
        retryInMs: this.#nextDelay(),
      },
      'git sync failed',
    );
  }

  #nextDelay(): number {
    const f = this.#status.consecutiveFailures;
    const poll = this.#pollInterval();
    if (f === 0) return poll;
    const backoff = poll * 2 ** Math.min(f - 1, 30);
    return Math.max(poll, Math.min(backoff, this.#maxBackoff));
  }

  /** Waits `ms`, or less when aborted or woken by syncNow. */
  #wait(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted || this.#wakeRequested) {
      this.#wakeRequested = false;
      return Promise.resolve();
    }
    return new Promise((res) => {
      const done = () => {
        timer.cancel();
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        this.#wakeRequested = false;
        res();
      };
      const timer = this.#clock.setTimer(ms, done);
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }
}

function reasonFor(code: string): GitSourceReason {
  switch (code) {
    case GitErrorCode.BranchNotFound:
      return GitSourceReason.BranchNotFound;
    case GitErrorCode.SignatureInvalid:
      return GitSourceReason.InvalidCommitSignature;
    default:
      return GitSourceReason.GitOperationFailed;
  }
}

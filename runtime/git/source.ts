/**
 * GitSource: the informer's source. It keeps a checkout of one branch of one remote current and
 * emits a revision each time the checked-out commit changes.
 *
 * Every poll runs a cheap `git ls-remote <remote> refs/heads/<branch>`; only when the tip differs
 * from the checked-out commit does it fetch (depth 1) and hard-check-out the fetched commit, so a
 * force-push or a branch moved backwards is followed like any other change. A checkout dir left by
 * a previous run whose HEAD already equals the tip is adopted without any fetch.
 *
 * Failures never end the loop: the last checkout stays in place, status turns not-ready with
 * git's message (credentials redacted), and the next attempt backs off exponentially from the
 * poll interval up to `maxBackoff`, back to the poll interval after a success.
 */
import { dirname, resolve } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { Observable, ReplaySubject } from 'rxjs';
import { OrunError, errorMessage, isOrunError } from '../../apis/errors.ts';
import { GitErrorCode, formatRevision } from './client.ts';
import type { GitClient } from './client.ts';
import { realClock } from '../clock/index.ts';
import type { Clock } from '../clock/index.ts';
import { GitMetrics } from './metrics.ts';
import type { GitOperation } from './metrics.ts';
import { redactUrls } from './redact.ts';
import { SimpleGitClient } from './simple-git-client.ts';

export interface GitSourceOptions {
  /** `file://…`, a local path, `ssh://…` or `https://…` (userinfo is never logged). Required. */
  remote: string;
  /** Branch to track. Default `main`. */
  branch?: string;
  /** Checkout dir (under the data dir); created on first sync, reused across restarts. Required. */
  dir: string;
  /** Time between ref checks when healthy, in ms. Default 5000 (the Node's `pollInterval: 5s`). */
  pollInterval?: number;
  /** Upper bound of the retry backoff after failures, in ms. Default 300000 (5 min). */
  maxBackoff?: number;
  /** Deploy key for ssh:// remotes, used via GIT_SSH_COMMAND. Default: none (ssh's defaults). */
  sshKeyPath?: string;
  /** known_hosts for ssh:// remotes (new hosts accepted once, changed keys refused). Default `<dirname(dir)>/known_hosts`. */
  knownHostsFile?: string;
  /** Refuse commits not signed (SSH signatures) by a key in this allowed signers file. Default: no verification. */
  verify?: { allowedSignersFile: string };
  /** Default: a SimpleGitClient configured with sshKeyPath and knownHostsFile. */
  client?: GitClient;
  /** Default: the system clock. */
  clock?: Clock;
  /** Default: a silent logger. */
  logger?: Logger;
  /** Registry for the `orun_git_*` metrics. Default: a private registry (never the global one). */
  registry?: Registry;
}

/** One checked-out commit. */
export interface GitRevision {
  /** `<branch>@sha1:<sha>`, as Flux writes artifact revisions. */
  revision: string;
  commit: string;
  branch: string;
  /** The checkout dir, holding exactly this commit's tree. */
  dir: string;
  message: string;
  author: string;
  time: Date;
}

/** `status().reason` values (CamelCase, for a `GitSynced` condition). */
export const GitSourceReason = {
  /** No attempt has finished yet. */
  Progressing: 'Progressing',
  /** The checkout equals the remote tip. */
  Succeeded: 'Succeeded',
  /** A git operation failed (remote unreachable, auth, fetch, checkout). */
  GitOperationFailed: 'GitOperationFailed',
  /** The tracked branch does not exist on the remote. */
  BranchNotFound: 'BranchNotFound',
  /** `verify` is set and the tip is unsigned or signed by a key not allowed. */
  InvalidCommitSignature: 'InvalidCommitSignature',
} as const;
export type GitSourceReason = (typeof GitSourceReason)[keyof typeof GitSourceReason];

export interface GitSourceStatus {
  /** True when the last attempt succeeded (the checkout equals the remote tip). */
  ready: boolean;
  reason: GitSourceReason;
  message: string;
  lastSuccessTime?: Date;
  lastAttemptTime?: Date;
  /** The checked-out revision; kept through failures. */
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
  readonly branch: string;
  readonly dir: string;
  /** Every new checked-out revision; a late subscriber gets the current one first. Completes on stop. */
  readonly revisions$: Observable<GitRevision>;
  /** Resolves after the first successful checkout; rejects with GitSourceStopped if stopped before. */
  readonly synced: Promise<void>;

  readonly #client: GitClient;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: GitMetrics;
  readonly #pollInterval: number;
  readonly #maxBackoff: number;
  readonly #verify: { allowedSignersFile: string } | undefined;
  readonly #revisions = new ReplaySubject<GitRevision>(1);
  #resolveSynced!: () => void;
  #rejectSynced!: (err: unknown) => void;

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
  #wakeRequested = false;
  #wake: (() => void) | undefined;

  constructor(options: GitSourceOptions) {
    this.remote = options.remote;
    this.branch = options.branch ?? 'main';
    this.dir = resolve(options.dir);
    this.#pollInterval = options.pollInterval ?? 5000;
    this.#maxBackoff = options.maxBackoff ?? 300_000;
    this.#verify = options.verify;
    this.#clock = options.clock ?? realClock;
    this.#metrics = new GitMetrics(options.registry ?? new Registry());
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({
      component: 'git-source',
      remote: redactUrls(this.remote),
      branch: this.branch,
    });
    this.#client =
      options.client ??
      new SimpleGitClient({
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
  }

  /** Polls until `signal` aborts. Call once. Never rejects because of git failures. */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#started) {
      throw new OrunError(GitSourceErrorCode.AlreadyStarted, 'git source: start: already started');
    }
    this.#started = true;
    this.#log.info({ dir: this.dir, pollIntervalMs: this.#pollInterval }, 'git source starting');
    try {
      while (!signal.aborted) {
        const waiters = this.#waiters.splice(0);
        await this.#attempt(signal);
        for (const w of waiters) w(this.status());
        await this.#wait(this.#nextDelay(), signal);
      }
    } finally {
      this.#stopped = true;
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

  /** True once a checkout has succeeded. */
  hasSynced(): boolean {
    return this.#current !== undefined;
  }

  /** The checked-out revision, if any. */
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
      message: `checked out revision '${revision}'`,
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

  /** One poll; returns the new revision when the checkout changed. */
  async #sync(signal: AbortSignal): Promise<GitRevision | undefined> {
    const client = this.#client;
    const tip = await this.#timed('ls-remote', () => client.lsRemote(this.remote, this.branch, signal));
    if (tip === undefined) {
      throw new OrunError(
        GitErrorCode.BranchNotFound,
        `git: ls-remote ${redactUrls(this.remote)}: branch '${this.branch}' not found`,
      );
    }
    if (tip === this.#current?.commit) return undefined;
    if (tip === this.#rejectedSha?.sha) throw this.#rejectedSha.error;

    let sha = tip;
    if (this.#current === undefined && (await this.#headOrUndefined(signal)) === tip) {
      this.#log.info({ commit: tip }, 'reusing existing checkout');
    } else {
      sha = await this.#timed('fetch', () => client.cloneOrFetch(this.remote, this.branch, this.dir, signal));
    }
    if (this.#verify) await this.#verifyCommit(sha, this.#verify.allowedSignersFile, signal);
    const head = await this.#timed('checkout', async () => {
      await client.checkout(this.dir, sha, signal);
      return client.headCommit(this.dir, signal);
    });
    if (head?.sha !== sha) {
      throw new OrunError(
        GitErrorCode.CheckoutFailed,
        `git: checkout ${sha}: HEAD is ${head?.sha ?? 'missing'}`,
      );
    }
    const rev: GitRevision = {
      revision: formatRevision(this.branch, sha),
      commit: sha,
      branch: this.branch,
      dir: this.dir,
      message: head.message,
      author: head.author,
      time: head.time,
    };
    this.#current = rev;
    this.#metrics.setRevision(this.branch, rev.revision);
    this.#log.info(
      { revision: rev.revision, subject: rev.message.split('\n')[0] },
      'checked out new revision',
    );
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

  async #headOrUndefined(signal: AbortSignal): Promise<string | undefined> {
    try {
      return (await this.#client.headCommit(this.dir, signal))?.sha;
    } catch {
      return undefined; // an unreadable old checkout is simply fetched into again
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
      { code, err: message, consecutiveFailures: failures, retryInMs: this.#nextDelay() },
      'git sync failed',
    );
  }

  #nextDelay(): number {
    const f = this.#status.consecutiveFailures;
    if (f === 0) return this.#pollInterval;
    const backoff = this.#pollInterval * 2 ** Math.min(f - 1, 30);
    return Math.max(this.#pollInterval, Math.min(backoff, this.#maxBackoff));
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

/**
 * One bootstrap session: runs the named steps over SSH, records changes (or only plans them in a
 * dry run), runs privileged commands as root (or through `sudo -n`), and keeps remote files at
 * their wanted content and mode with one read-only probe and atomic replaces.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { OrunError, errorMessage, isOrunError } from '../../apis/errors.ts';
import type { ExecResult, SshConnector, SshSession } from '../ssh/client.ts';
import { shellAnd, shellCommand } from '../ssh/quote.ts';
import type { BootstrapAssets } from './assets.ts';
import { REMOTE } from './remote.ts';
import { BootstrapErrorCode } from './request.ts';
import type { BootstrapRequest } from './request.ts';

export interface BootstrapDeps {
  connector: SshConnector;
  assets: BootstrapAssets;
  /** Progress, one line per step (the CLI writes it to stderr). */
  log(line: string): void;
  /** Results for the user: the deploy key, the manifest in a dry run (the CLI writes them to stdout). */
  print(text: string): void;
  /** How long the service must stay up after a (re)start before it counts as running. Default 3000 ms. */
  settleMs?: number;
  signal?: AbortSignal;
}

export interface BootstrapResult {
  /** `user@host:port`. */
  target: string;
  dryRun: boolean;
  /** Every change made (or, in a dry run, planned), by step. Empty: the node was up to date. */
  changes: { step: string; change: string }[];
  /** Prerequisites the node lacks (only a dry run gets this far with any). */
  problems: string[];
  /** The node's deploy key (public), for ssh:// repositories. */
  deployKey?: string;
  /** Absolute path of the manifest written (or that would be). */
  manifest: string;
  /** The orun executable before and after (`installed`, `upgraded A → B`, `unchanged`). */
  upgrade?: Upgrade;
}

/** What `install orun` did: `from` '' is a fresh install; `changed` false is unchanged. */
export interface Upgrade {
  from: string;
  to: string;
  changed: boolean;
}

/** One remote file bootstrap manages: its bytes (or a local file) and permission bits. */
export interface ManagedFile {
  path: string;
  source: Buffer | { local: string };
  mode: number;
}

/** Prints `<mode> <sha256>` or `-` per path: one round trip for any number of files. */
export const STAT_FILES_SCRIPT =
  'for f; do if [ -f "$f" ]; then printf "%s %s\\n" "$(stat -c %a -- "$f")" "$(sha256sum < "$f" | cut -d" " -f1)"; else echo -; fi; done';
/** Prints the octal mode or `-` per directory. */
export const STAT_DIRS_SCRIPT = 'for d; do if [ -d "$d" ]; then stat -c %a -- "$d"; else echo -; fi; done';
export const SERVICE_STATE_SCRIPT = `systemctl is-enabled ${REMOTE.service}; systemctl is-active ${REMOTE.service}; true`;

/**
 * What a step returns: a note for its log line (`bootstrap: install node: ok (note)`), plus
 * whatever typed facts later steps need (the pipeline in steps.ts passes them on explicitly).
 */
export interface StepOutcome {
  note?: string;
}

/** Runs a bootstrap's steps over one session; a step's changes are recorded in `result`. */
export class StepRunner {
  readonly req: BootstrapRequest;
  readonly deps: BootstrapDeps;
  readonly session: SshSession;
  readonly result: BootstrapResult;
  /** The login is root (else privileged commands go through `sudo -n`); set by `check remote`. */
  isRoot = false;
  #step = '';
  #staging: string | undefined;
  #staged = 0;
  /** How to take back each change made so far, newest last (see rollback). */
  #undo: (() => Promise<unknown>)[] = [];
  /** Backups of replaced files (`<path>.orun-old`), removed once the run succeeded. */
  #backups: string[] = [];

  constructor(req: BootstrapRequest, deps: BootstrapDeps, session: SshSession, result: BootstrapResult) {
    this.req = req;
    this.deps = deps;
    this.session = session;
    this.result = result;
  }

  get dryRun(): boolean {
    return this.req.dryRun;
  }

  /** Runs one step, logs its outcome, and names it in any error. */
  async step<T extends StepOutcome>(name: string, body: () => Promise<T>): Promise<T> {
    this.#step = name;
    const before = this.result.changes.length;
    const problemsBefore = this.result.problems.length;
    let outcome: T;
    try {
      this.deps.signal?.throwIfAborted();
      outcome = await body();
    } catch (err) {
      // Prerequisite errors are made by the step itself and already name it.
      if (isOrunError(err, BootstrapErrorCode.Prerequisites)) throw err;
      throw new OrunError(BootstrapErrorCode.StepFailed, `bootstrap: ${name}: ${errorMessage(err)}`, {
        cause: err,
        context: { step: name, target: this.result.target },
      });
    }
    const mine = this.result.changes.slice(before).map((c) => c.change);
    const verb = this.dryRun ? 'would ' : '';
    const suffix = outcome.note ? ` (${outcome.note})` : '';
    const problems = this.result.problems.slice(problemsBefore);
    if (problems.length > 0)
      this.deps.log(
        `bootstrap: ${name}: would fail: the node lacks:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      );
    else
      this.deps.log(
        mine.length === 0
          ? `bootstrap: ${name}: ok${suffix}`
          : `bootstrap: ${name}: ${verb}${mine.join('; ')}${suffix}`,
      );
    return outcome;
  }

  /** Records a change and, unless this is a dry run, makes it. */
  async change(description: string, action: () => Promise<unknown>): Promise<void> {
    this.result.changes.push({ step: this.#step, change: description });
    if (!this.dryRun) await action();
  }

  /** `argv` run as root: as is for root, through `sudo -n` otherwise. */
  root(argv: readonly string[]): string[] {
    return this.isRoot ? [...argv] : ['sudo', '-n', ...argv];
  }

  /** Runs a command; a non-zero exit throws with its stderr. */
  async run(command: string, timeoutMs?: number): Promise<ExecResult> {
    const res = await this.session.exec(command, { signal: this.deps.signal, timeoutMs });
    if (res.code !== 0) {
      const short = command.length > 200 ? `${command.slice(0, 197)}...` : command;
      const why = (res.stderr.trim() || res.stdout.trim()).slice(-800) || 'no output';
      throw new OrunError(BootstrapErrorCode.RemoteCommandFailed, `\`${short}\` exited ${res.code}: ${why}`, {
        context: { command: short, code: res.code },
      });
    }
    return res;
  }

  /** Brings `files` to their content and mode; returns the paths it changed. */
  async ensureFiles(files: readonly ManagedFile[]): Promise<string[]> {
    const [states, hashes] = await Promise.all([
      this.run(shellCommand(this.root(['sh', '-c', STAT_FILES_SCRIPT, 'sh', ...files.map((f) => f.path)]))),
      Promise.all(files.map((f) => sha256(f.source))),
    ]);
    const lines = states.stdout.split('\n');
    const changed: string[] = [];
    for (const [i, f] of files.entries()) {
      const [mode, hash] = (lines[i] ?? '-').split(' ');
      if (mode !== '-' && hash === hashes[i] && Number.parseInt(mode ?? '', 8) === f.mode) continue;
      changed.push(f.path);
      const what = mode === '-' ? 'write' : hash === hashes[i] ? 'chmod' : 'update';
      await this.change(`${what} ${f.path}`, () => this.put(f, mode !== '-'));
    }
    return changed;
  }

  /**
   * Uploads to a private staging dir, then installs beside the target and renames over it
   * (atomic). A replaced file is kept as `<path>.orun-old` until the run ends, so a failed run
   * can put it back; a new one is removed.
   */
  async put(f: ManagedFile, exists = false): Promise<void> {
    this.#staging ??= (
      await this.run(shellCommand(['mktemp', '-d', '/tmp/orun-bootstrap.XXXXXX']))
    ).stdout.trim();
    const staged = `${this.#staging}/${this.#staged++}`;
    const source = Buffer.isBuffer(f.source) ? f.source : f.source.local;
    await this.session.upload(source, staged, 0o600, this.deps.signal);
    const next = `${f.path}.orun-new`;
    const old = `${f.path}.orun-old`;
    // A failure between install and mv leaves `<path>.orun-new`: that goes too.
    this.undo(() => this.run(shellCommand(this.root(['rm', '-f', '--', next]))));
    await this.run(
      shellAnd(
        this.root(['install', '-D', '-m', f.mode.toString(8).padStart(4, '0'), '--', staged, next]),
        ...(exists ? [this.root(['cp', '-p', '--', f.path, old])] : []),
        this.root(['mv', '-f', '--', next, f.path]),
      ),
    );
    if (exists) this.#backups.push(old);
    this.undo(() =>
      this.run(
        shellCommand(this.root(exists ? ['mv', '-f', '--', old, f.path] : ['rm', '-f', '--', f.path])),
      ),
    );
  }

  /** Registers how to take back a change just made (run by rollback, newest first). */
  undo(action: () => Promise<unknown>): void {
    if (!this.dryRun) this.#undo.push(action);
  }

  /**
   * Takes back every change of this run, newest first (best effort: each undo runs even when an
   * earlier one failed). Packages apt installed stay: they are whole, and harmless.
   */
  async rollback(): Promise<void> {
    const actions = this.#undo.reverse();
    this.#undo = [];
    this.#backups = [];
    for (const action of actions) await action().catch(() => undefined);
    if (actions.length > 0)
      this.deps.log(`bootstrap: rollback: took back the ${actions.length} change(s) of this run`);
  }

  /** Removes the staging dir, if any (best effort: a failure here does not hide the real outcome). */
  async cleanup(): Promise<void> {
    if (this.#backups.length > 0)
      await this.session
        .exec(shellCommand(this.root(['rm', '-f', '--', ...this.#backups])), { timeoutMs: 30_000 })
        .catch(() => undefined);
    if (this.#staging === undefined) return;
    await this.session
      .exec(shellCommand(['rm', '-rf', '--', this.#staging]), { timeoutMs: 30_000 })
      .catch(() => undefined);
  }
}

async function sha256(source: Buffer | { local: string }): Promise<string> {
  const hash = createHash('sha256');
  if (Buffer.isBuffer(source)) return hash.update(source).digest('hex');
  for await (const chunk of createReadStream(source.local)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

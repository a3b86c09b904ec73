/**
 * An in-memory GitClient: remotes are maps of branch → commit, checkout dirs are maps of
 * fetched commits plus HEAD. It passes the same contract suite as the real client
 * (client.contract.ts), counts calls per operation and can be told to fail.
 */
import { randomBytes } from 'node:crypto';
import { OrunError } from '../../apis/errors.ts';
import { GitErrorCode, isValidBranchName, normalizeRemote } from './client.ts';
import type { GitClient, HeadCommit } from './client.ts';

export interface FakeCommit extends HeadCommit {
  /** Name of the key that signed it; verifyCommit accepts it when listed for the signers file. */
  signedBy?: string;
}

export type FakeGitOperation = 'lsRemote' | 'cloneOrFetch' | 'checkout' | 'headCommit' | 'verifyCommit';

interface FakeDir {
  remote?: string;
  objects: Map<string, FakeCommit>;
  head?: string;
}

export class FakeGitClient implements GitClient {
  /** remote (normalized) → branch → tip. A missing remote is unreachable. */
  readonly remotes = new Map<string, Map<string, FakeCommit>>();
  /** allowed signers file → names of keys allowed to sign. */
  readonly allowedSigners = new Map<string, Set<string>>();
  readonly calls: Record<FakeGitOperation, number> = {
    lsRemote: 0,
    cloneOrFetch: 0,
    checkout: 0,
    headCommit: 0,
    verifyCommit: 0,
  };
  readonly #dirs = new Map<string, FakeDir>();
  readonly #failures = new Map<FakeGitOperation, OrunError[]>();

  /** Creates (or empties) a reachable remote. */
  createRemote(remote: string): void {
    this.remotes.set(normalizeRemote(remote), new Map());
  }

  /** Adds a commit on top of `branch` (creating the remote when missing) and returns it. */
  commit(remote: string, branch: string, message: string, opts: { signedBy?: string } = {}): FakeCommit {
    const key = normalizeRemote(remote);
    const branches = this.remotes.get(key) ?? new Map<string, FakeCommit>();
    this.remotes.set(key, branches);
    const c: FakeCommit = {
      sha: randomBytes(20).toString('hex'),
      author: 'Orun Test <test@orun.invalid>',
      message,
      time: new Date(Math.floor(Date.now() / 1000) * 1000),
      ...(opts.signedBy ? { signedBy: opts.signedBy } : {}),
    };
    branches.set(branch, c);
    return c;
  }

  /** Points `branch` at an existing commit (a force-push). */
  setBranch(remote: string, branch: string, commit: FakeCommit): void {
    this.remotes.get(normalizeRemote(remote))?.set(branch, commit);
  }

  /** Makes the next call of `op` reject with `error` (queued; one per call). */
  failNext(op: FakeGitOperation, error: OrunError): void {
    const q = this.#failures.get(op) ?? [];
    q.push(error);
    this.#failures.set(op, q);
  }

  lsRemote(remote: string, branch: string): Promise<string | undefined> {
    return this.#op('lsRemote', () => {
      checkBranch(branch);
      return this.#remote(remote, GitErrorCode.LsRemoteFailed).get(branch)?.sha;
    });
  }

  cloneOrFetch(remote: string, branch: string, dir: string): Promise<string> {
    return this.#op('cloneOrFetch', () => {
      checkBranch(branch);
      const tip = this.#remote(remote, GitErrorCode.FetchFailed).get(branch);
      if (!tip) {
        throw new OrunError(
          GitErrorCode.FetchFailed,
          `git: fetch ${remote} ${branch}: couldn't find remote ref`,
        );
      }
      const d = this.#dirs.get(dir) ?? { objects: new Map<string, FakeCommit>() };
      d.remote = normalizeRemote(remote);
      d.objects.set(tip.sha, tip);
      this.#dirs.set(dir, d);
      return tip.sha;
    });
  }

  checkout(dir: string, sha: string): Promise<void> {
    return this.#op('checkout', () => {
      const d = this.#dirs.get(dir);
      if (!d?.objects.has(sha)) {
        throw new OrunError(GitErrorCode.CheckoutFailed, `git: checkout ${sha}: reference is not a tree`);
      }
      d.head = sha;
    });
  }

  headCommit(dir: string): Promise<HeadCommit | undefined> {
    return this.#op('headCommit', () => {
      const d = this.#dirs.get(dir);
      const c = d?.head === undefined ? undefined : d.objects.get(d.head);
      return c && { sha: c.sha, author: c.author, message: c.message, time: c.time };
    });
  }

  verifyCommit(dir: string, sha: string, allowedSignersFile: string): Promise<void> {
    return this.#op('verifyCommit', () => {
      const c = this.#dirs.get(dir)?.objects.get(sha);
      const signer = c?.signedBy;
      if (signer === undefined || !this.allowedSigners.get(allowedSignersFile)?.has(signer)) {
        throw new OrunError(
          GitErrorCode.SignatureInvalid,
          `git: verify signature of ${sha}: ${signer === undefined ? 'no signature found' : 'no principal matched'}`,
        );
      }
    });
  }

  #remote(remote: string, code: string): Map<string, FakeCommit> {
    const r = this.remotes.get(normalizeRemote(remote));
    if (!r) throw new OrunError(code, `git: ${remote}: fatal: repository not found`);
    return r;
  }

  async #op<T>(op: FakeGitOperation, fn: () => T): Promise<T> {
    this.calls[op]++;
    await Promise.resolve();
    const failure = this.#failures.get(op)?.shift();
    if (failure) throw failure;
    return fn();
  }
}

function checkBranch(branch: string): void {
  if (!isValidBranchName(branch)) {
    throw new OrunError(GitErrorCode.InvalidOptions, `git: invalid branch name '${branch}'`);
  }
}

/**
 * An in-memory GitClient: remotes are maps of branch → commit, checkout dirs are maps of
 * fetched commits plus HEAD. It passes the same contract suite as the real client
 * (client.contract.ts), counts calls per operation and can be told to fail.
 */
import { createHash, randomBytes } from 'node:crypto';
import { OrunError } from '../../apis/errors.ts';
import { FETCHED_REF, GitErrorCode, isValidBranchName, normalizeRemote } from './client.ts';
import type { GitClient, HeadCommit, TreeEntry } from './client.ts';

/** A file of a fake commit: its text, or a symbolic link to `symlink`. */
export type FakeFile = string | { symlink: string };

export interface FakeCommit extends HeadCommit {
  /** Name of the key that signed it; verifyCommit accepts it when listed for the signers file. */
  signedBy?: string;
  /** The commit's tree: repo-relative path → file. Default: empty. */
  files?: Readonly<Record<string, FakeFile>>;
}

export type FakeGitOperation =
  'lsRemote' | 'cloneOrFetch' | 'commit' | 'listTree' | 'readBlobs' | 'checkout' | 'verifyCommit';

interface FakeDir {
  objects: Map<string, FakeCommit>;
  blobs: Map<string, Buffer>;
  fetched?: string;
  head?: string;
}

function blobOf(f: FakeFile): { mode: string; data: Buffer } {
  return typeof f === 'string'
    ? { mode: '100644', data: Buffer.from(f) }
    : { mode: '120000', data: Buffer.from(f.symlink) };
}

function oidOf(data: Buffer): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

export class FakeGitClient implements GitClient {
  /** remote (normalized) → branch → tip. A missing remote is unreachable. */
  readonly remotes = new Map<string, Map<string, FakeCommit>>();
  /** allowed signers file → names of keys allowed to sign. */
  readonly allowedSigners = new Map<string, Set<string>>();
  readonly calls: Record<FakeGitOperation, number> = {
    lsRemote: 0,
    cloneOrFetch: 0,
    commit: 0,
    listTree: 0,
    readBlobs: 0,
    checkout: 0,
    verifyCommit: 0,
  };
  readonly #dirs = new Map<string, FakeDir>();
  readonly #failures = new Map<FakeGitOperation, OrunError[]>();

  /** Creates (or empties) a reachable remote. */
  createRemote(remote: string): void {
    this.remotes.set(normalizeRemote(remote), new Map());
  }

  /** Adds a commit on top of `branch` (creating the remote when missing) and returns it. */
  push(
    remote: string,
    branch: string,
    message: string,
    opts: { signedBy?: string; files?: Record<string, FakeFile> } = {},
  ): FakeCommit {
    const key = normalizeRemote(remote);
    const branches = this.remotes.get(key) ?? new Map<string, FakeCommit>();
    this.remotes.set(key, branches);
    const c: FakeCommit = {
      sha: randomBytes(20).toString('hex'),
      author: 'Orun Test <test@orun.invalid>',
      message,
      time: new Date(Math.floor(Date.now() / 1000) * 1000),
      ...(opts.signedBy ? { signedBy: opts.signedBy } : {}),
      ...(opts.files ? { files: { ...opts.files } } : {}),
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

  cloneOrFetch(remote: string, branch: string, dir: string): Promise<HeadCommit> {
    return this.#op('cloneOrFetch', () => {
      checkBranch(branch);
      const tip = this.#remote(remote, GitErrorCode.FetchFailed).get(branch);
      if (!tip) {
        throw new OrunError(
          GitErrorCode.FetchFailed,
          `git: fetch ${remote} ${branch}: couldn't find remote ref`,
        );
      }
      const d: FakeDir = this.#dirs.get(dir) ?? { objects: new Map<string, FakeCommit>(), blobs: new Map() };
      d.objects.set(tip.sha, tip);
      for (const f of Object.values(tip.files ?? {})) {
        const { data } = blobOf(f);
        d.blobs.set(oidOf(data), data);
      }
      d.fetched = tip.sha;
      this.#dirs.set(dir, d);
      return headOf(tip);
    });
  }

  commit(dir: string, rev: string): Promise<HeadCommit | undefined> {
    return this.#op('commit', () => {
      const d = this.#dirs.get(dir);
      const sha = rev === 'HEAD' ? d?.head : rev === FETCHED_REF ? d?.fetched : rev;
      const c = sha === undefined ? undefined : d?.objects.get(sha);
      return c && headOf(c);
    });
  }

  listTree(dir: string, sha: string, paths: readonly string[]): Promise<TreeEntry[]> {
    return this.#op('listTree', () => {
      const c = this.#dirs.get(dir)?.objects.get(sha);
      if (!c) throw new OrunError(GitErrorCode.ReadFailed, `git: list tree of ${sha}: not a tree object`);
      const out: TreeEntry[] = [];
      for (const [path, f] of Object.entries(c.files ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (!paths.some((p) => path === p || path.startsWith(`${p}/`))) continue;
        const { mode, data } = blobOf(f);
        out.push({
          path,
          mode,
          kind: mode === '120000' ? 'symlink' : 'file',
          oid: oidOf(data),
          size: data.length,
        });
      }
      return out;
    });
  }

  readBlobs(dir: string, oids: readonly string[]): Promise<Map<string, Buffer>> {
    return this.#op('readBlobs', () => {
      const blobs = this.#dirs.get(dir)?.blobs;
      const out = new Map<string, Buffer>();
      for (const oid of oids) {
        const b = blobs?.get(oid);
        if (!b)
          throw new OrunError(GitErrorCode.ReadFailed, `git: read blob ${oid}: not in the object store`);
        out.set(oid, b);
      }
      return out;
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

function headOf(c: FakeCommit): HeadCommit {
  return { sha: c.sha, author: c.author, message: c.message, time: c.time };
}

function checkBranch(branch: string): void {
  if (!isValidBranchName(branch)) {
    throw new OrunError(GitErrorCode.InvalidOptions, `git: invalid branch name '${branch}'`);
  }
}

/**
 * The Git edge as the source needs it: a few operations behind a small interface, so the poll
 * loop can be tested with a fake (fake-client.ts) and run against real git (cli-client.ts).
 * Both pass the same contract suite (client.contract.ts).
 *
 * A revision is read from the object store (`listTree` + `readBlobs` of a fetched commit), never
 * from a work tree: what is read is exactly that commit's tree, whatever happens meanwhile.
 */
import { isAbsolute, resolve } from 'node:path';

/** The commit a checkout's HEAD points at. */
export interface HeadCommit {
  /** Full object name (40 hex for sha1 repositories, 64 for sha256). */
  sha: string;
  /** `Name <email>` of the author. */
  author: string;
  /** Full commit message, trailing newline removed. */
  message: string;
  /** Committer time. */
  time: Date;
}

/**
 * Error codes every GitClient uses (OrunError.code). Branch on these, never on messages.
 */
export const GitErrorCode = {
  /** `git ls-remote` failed: remote unreachable, auth refused, not a repository. */
  LsRemoteFailed: 'GitLsRemoteFailed',
  /** init/fetch into the checkout dir failed (includes a branch that vanished meanwhile). */
  FetchFailed: 'GitFetchFailed',
  /** Hard checkout of a fetched commit failed. */
  CheckoutFailed: 'GitCheckoutFailed',
  /** Reading HEAD of the checkout failed for a reason other than "there is none". */
  HeadFailed: 'GitHeadFailed',
  /** The tracked branch does not exist on the remote. */
  BranchNotFound: 'GitBranchNotFound',
  /** Listing a tree or reading blobs of a fetched commit failed. */
  ReadFailed: 'GitReadFailed',
  /** The commit is unsigned or not signed by a key in the allowed signers file. */
  SignatureInvalid: 'GitSignatureInvalid',
  /** Options rejected before running anything (bad branch name, remote starting with `-`). */
  InvalidOptions: 'GitInvalidOptions',
} as const;
export type GitErrorCode = (typeof GitErrorCode)[keyof typeof GitErrorCode];

/** The ref a fetch writes (the fetched branch tip); the work tree's HEAD is separate. */
export const FETCHED_REF = 'refs/orun/fetched';

/** What a tree entry is: a regular (or executable) file, a symbolic link, a submodule commit. */
export type TreeEntryKind = 'file' | 'symlink' | 'submodule';

/** One file of a commit's tree (`git ls-tree -r -l`). */
export interface TreeEntry {
  /** Relative to the repository root, `/`-separated. */
  path: string;
  /** Octal mode as git writes it: 100644, 100755, 120000 (symlink), 160000 (submodule). */
  mode: string;
  kind: TreeEntryKind;
  /** Blob (or, for a submodule, commit) object name. */
  oid: string;
  /** Bytes of the blob (for a symlink: of its target path); 0 for a submodule. */
  size: number;
}

/** The kind of a tree entry from its mode. */
export function treeEntryKind(mode: string): TreeEntryKind {
  if (mode === '120000') return 'symlink';
  if (mode === '160000') return 'submodule';
  return 'file';
}

export interface GitClient {
  /**
   * The sha `refs/heads/<branch>` points at on `remote`, or undefined when the branch does not
   * exist. Rejects with `GitLsRemoteFailed` when the remote cannot be read.
   */
  lsRemote(remote: string, branch: string, signal?: AbortSignal): Promise<string | undefined>;
  /**
   * Makes `dir` a repository (creating it when missing, reusing it otherwise), fetches the branch
   * tip of `remote` with depth 1 into `FETCHED_REF` and returns that commit. Does not touch the
   * working tree. Rejects with `GitFetchFailed`.
   */
  cloneOrFetch(remote: string, branch: string, dir: string, signal?: AbortSignal): Promise<HeadCommit>;
  /**
   * The commit `rev` (a sha or a ref such as `FETCHED_REF` or `HEAD`) names in `dir`, or undefined
   * when `dir` is no repository or has no such commit.
   */
  commit(dir: string, rev: string, signal?: AbortSignal): Promise<HeadCommit | undefined>;
  /**
   * Every file (recursively) of commit `sha`'s tree under `paths` (files or folders, literal,
   * relative to the root), in git's order. Symlinks and submodules are listed, never followed.
   * Rejects with `GitReadFailed`.
   */
  listTree(dir: string, sha: string, paths: readonly string[], signal?: AbortSignal): Promise<TreeEntry[]>;
  /** The contents of blobs by object name. Rejects with `GitReadFailed` (e.g. one is missing). */
  readBlobs(dir: string, oids: readonly string[], signal?: AbortSignal): Promise<Map<string, Buffer>>;
  /**
   * Hard checkout of `sha` in `dir` (detached HEAD; local changes and untracked files are
   * discarded): a work tree, for what needs files on disk (ServiceGraph host services' project
   * directory). Rejects with `GitCheckoutFailed`.
   */
  checkout(dir: string, sha: string, signal?: AbortSignal): Promise<void>;
  /**
   * Verifies the SSH signature of `sha` (already fetched into `dir`) against an allowed signers
   * file (`ssh-keygen -Y` format). Rejects with `GitSignatureInvalid`.
   */
  verifyCommit(dir: string, sha: string, allowedSignersFile: string, signal?: AbortSignal): Promise<void>;
}

const BRANCH_RE = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)(?!.*\.lock$)(?!.*\/$)(?!.*\.$)[^\s~^:?*[\\\p{Cc}]+$/u;

/** True when `branch` is a name `git check-ref-format --branch` would accept (conservatively). */
export function isValidBranchName(branch: string): boolean {
  return BRANCH_RE.test(branch);
}

/** `<branch>@sha1:<sha>` (or `sha256:` for 64-hex names), Flux's artifact revision format. */
export function formatRevision(branch: string, sha: string): string {
  return `${branch}@${sha.length === 64 ? 'sha256' : 'sha1'}:${sha}`;
}

/** A remote as git should see it: URLs and scp-like `user@host:path` as given, paths absolute. */
export function normalizeRemote(remote: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(remote)) return remote;
  if (/^[^/]*@[^/]+:/.test(remote)) return remote;
  return isAbsolute(remote) ? remote : resolve(remote);
}

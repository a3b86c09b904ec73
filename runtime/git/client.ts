/**
 * The Git edge as the source needs it: four operations behind a small interface, so the poll
 * loop can be tested with a fake (fake-client.ts) and run against real git (simple-git-client.ts).
 * Both pass the same contract suite (client.contract.ts).
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
  /** The commit is unsigned or not signed by a key in the allowed signers file. */
  SignatureInvalid: 'GitSignatureInvalid',
  /** Options rejected before running anything (bad branch name, remote starting with `-`). */
  InvalidOptions: 'GitInvalidOptions',
} as const;
export type GitErrorCode = (typeof GitErrorCode)[keyof typeof GitErrorCode];

export interface GitClient {
  /**
   * The sha `refs/heads/<branch>` points at on `remote`, or undefined when the branch does not
   * exist. Rejects with `GitLsRemoteFailed` when the remote cannot be read.
   */
  lsRemote(remote: string, branch: string, signal?: AbortSignal): Promise<string | undefined>;
  /**
   * Makes `dir` a repository whose `origin` is `remote` (creating it when missing, reusing it
   * otherwise), fetches the branch tip with depth 1 and returns the fetched sha (FETCH_HEAD).
   * Does not touch the working tree. Rejects with `GitFetchFailed`.
   */
  cloneOrFetch(remote: string, branch: string, dir: string, signal?: AbortSignal): Promise<string>;
  /**
   * Hard checkout of `sha` in `dir` (detached HEAD; local changes and untracked files are
   * discarded). Rejects with `GitCheckoutFailed`.
   */
  checkout(dir: string, sha: string, signal?: AbortSignal): Promise<void>;
  /** HEAD of the checkout in `dir`, or undefined when `dir` is no repository or has no HEAD. */
  headCommit(dir: string, signal?: AbortSignal): Promise<HeadCommit | undefined>;
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

/**
 * The Git edge: GitSource (the informer's source) and the GitClient it runs on.
 *
 * @example
 * const source = new GitSource({ remote: 'ssh://git@host/repo.git', dir: '/opt/orun/repo', sshKeyPath, logger, registry });
 * source.revisions$.subscribe((rev) => loadManifests(rev.files, rev.revision));
 * await source.start(signal);
 */
export {
  FETCHED_REF,
  GitErrorCode,
  formatRevision,
  isValidBranchName,
  normalizeRemote,
  treeEntryKind,
} from './client.ts';
export type { GitClient, HeadCommit, TreeEntry, TreeEntryKind } from './client.ts';
export { GitCliClient } from './cli-client.ts';
export type { GitCliClientOptions } from './cli-client.ts';
export { RevisionFiles } from './files.ts';
export { FakeGitClient } from './fake-client.ts';
export type { FakeCommit, FakeFile, FakeGitOperation } from './fake-client.ts';
export { GitMetrics } from './metrics.ts';
export type { GitOperation } from './metrics.ts';
export { redactUrls } from './redact.ts';
export { GitSource, GitSourceErrorCode, GitSourceReason } from './source.ts';
export type { CommitVerification, GitRevision, GitSourceOptions, GitSourceStatus } from './source.ts';
export { CommitTrust, type CommitTrustOptions, type NodeTrustSettings } from './trust.ts';

/**
 * The Git edge: GitSource (the informer's source) and the GitClient it runs on.
 *
 * @example
 * const source = new GitSource({ remote: 'ssh://git@host/repo.git', dir: '/opt/orun/repo', sshKeyPath, logger, registry });
 * source.revisions$.subscribe((rev) => loadManifests(rev.dir, rev.revision));
 * await source.start(signal);
 */
export { GitErrorCode, formatRevision, isValidBranchName, normalizeRemote } from './client.ts';
export type { GitClient, HeadCommit } from './client.ts';
export { FakeGitClient } from './fake-client.ts';
export type { FakeCommit, FakeGitOperation } from './fake-client.ts';
export { GitMetrics } from './metrics.ts';
export type { GitOperation } from './metrics.ts';
export { redactUrls } from './redact.ts';
export { SimpleGitClient } from './simple-git-client.ts';
export type { SimpleGitClientOptions } from './simple-git-client.ts';
export { GitSource, GitSourceErrorCode, GitSourceReason } from './source.ts';
export type { GitRevision, GitSourceOptions, GitSourceStatus } from './source.ts';

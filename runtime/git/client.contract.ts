/**
 * The GitClient contract: one suite, run against the fake (fake-client.test.ts) and against real
 * git (test/git/simple-git-client.test.ts), so the fake cannot drift from git's behaviour.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { GitErrorCode } from './client.ts';
import type { GitClient } from './client.ts';

/** A remote the suite can change, as a push from a developer's clone would. */
export interface ContractRemote {
  url: string;
  /** Commits on top of `branch` and pushes; returns the new sha. */
  commit(branch: string, message: string): Promise<string>;
  /** Force-pushes `branch` to an existing commit. */
  forcePush(branch: string, sha: string): Promise<void>;
  /** Makes the remote unreachable (moved away) / reachable again. */
  breakRemote(): Promise<void>;
  restoreRemote(): Promise<void>;
}

export interface ContractHarness {
  client: GitClient;
  newRemote(): Promise<ContractRemote>;
  /** A fresh checkout dir path; it does not exist yet. */
  newDir(): Promise<string>;
  cleanup(): Promise<void>;
}

export function describeGitClientContract(name: string, setup: () => Promise<ContractHarness>): void {
  describe(`GitClient contract: ${name}`, () => {
    let h: ContractHarness;
    let remote: ContractRemote;
    beforeEach(async () => {
      h = await setup();
      remote = await h.newRemote();
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('lsRemote returns the branch tip, or undefined for a missing branch', async () => {
      const a = await remote.commit('main', 'first');
      await remote.commit('dev', 'on dev');
      expect(await h.client.lsRemote(remote.url, 'main')).toBe(a);
      expect(await h.client.lsRemote(remote.url, 'nope')).toBeUndefined();
    });

    it('lsRemote of an unreachable remote rejects with GitLsRemoteFailed', async () => {
      await remote.commit('main', 'first');
      await remote.breakRemote();
      const err = await h.client.lsRemote(remote.url, 'main').catch((e: unknown) => e);
      expect(isOrunError(err, GitErrorCode.LsRemoteFailed)).toBe(true);
    });

    it('headCommit of a dir that is no checkout is undefined', async () => {
      expect(await h.client.headCommit(await h.newDir())).toBeUndefined();
    });

    it('clones, checks out and reads HEAD', async () => {
      const a = await remote.commit('main', 'first commit\n\nwith a body');
      const dir = await h.newDir();
      expect(await h.client.cloneOrFetch(remote.url, 'main', dir)).toBe(a);
      await h.client.checkout(dir, a);
      const head = await h.client.headCommit(dir);
      expect(head).toMatchObject({ sha: a, message: 'first commit\n\nwith a body' });
      expect(head?.author).toMatch(/^.+ <.+@.+>$/);
      expect(head?.time.getTime()).not.toBeNaN();
    });

    it('fetches a new commit and a force-push backwards into an existing checkout', async () => {
      const a = await remote.commit('main', 'a');
      const dir = await h.newDir();
      await h.client.checkout(dir, await h.client.cloneOrFetch(remote.url, 'main', dir));
      const b = await remote.commit('main', 'b');
      expect(await h.client.cloneOrFetch(remote.url, 'main', dir)).toBe(b);
      // Fetching does not move HEAD; checkout does.
      expect((await h.client.headCommit(dir))?.sha).toBe(a);
      await h.client.checkout(dir, b);
      expect((await h.client.headCommit(dir))?.sha).toBe(b);
      await remote.forcePush('main', a);
      expect(await h.client.lsRemote(remote.url, 'main')).toBe(a);
      expect(await h.client.cloneOrFetch(remote.url, 'main', dir)).toBe(a);
      await h.client.checkout(dir, a);
      expect((await h.client.headCommit(dir))?.sha).toBe(a);
    });

    it('cloneOrFetch of a missing branch or an unreachable remote rejects with GitFetchFailed', async () => {
      await remote.commit('main', 'a');
      const dir = await h.newDir();
      const missing = await h.client.cloneOrFetch(remote.url, 'nope', dir).catch((e: unknown) => e);
      expect(isOrunError(missing, GitErrorCode.FetchFailed)).toBe(true);
      await remote.breakRemote();
      const gone = await h.client.cloneOrFetch(remote.url, 'main', dir).catch((e: unknown) => e);
      expect(isOrunError(gone, GitErrorCode.FetchFailed)).toBe(true);
      await remote.restoreRemote();
      expect(await h.client.cloneOrFetch(remote.url, 'main', dir)).toMatch(/^[0-9a-f]{40}$/);
    });

    it('rejects an invalid branch name with GitInvalidOptions', async () => {
      const err = await h.client.lsRemote(remote.url, '--upload-pack=x').catch((e: unknown) => e);
      expect(isOrunError(err, GitErrorCode.InvalidOptions)).toBe(true);
    });
  });
}

/**
 * The GitClient contract: one suite, run against the fake (fake-client.test.ts) and against real
 * git (test/git/cli-client.test.ts), so the fake cannot drift from git's behaviour.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { FETCHED_REF, GitErrorCode } from './client.ts';
import type { GitClient } from './client.ts';

/** A remote the suite can change, as a push from a developer's clone would. */
export interface ContractRemote {
  url: string;
  /**
   * Commits on top of `branch` and pushes; returns the new sha. `files` are written into the
   * tree (a `{ symlink }` value is a symbolic link); without them some file changes.
   */
  commit(
    branch: string,
    message: string,
    files?: Record<string, string | { symlink: string }>,
  ): Promise<string>;
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

    it('commit of a dir that is no repository, or of a missing ref, is undefined', async () => {
      const dir = await h.newDir();
      expect(await h.client.commit(dir, 'HEAD')).toBeUndefined();
      await remote.commit('main', 'first');
      await h.client.cloneOrFetch(remote.url, 'main', dir);
      expect(await h.client.commit(dir, 'HEAD')).toBeUndefined();
    });

    it('fetches without a checkout and reads the commit', async () => {
      const a = await remote.commit('main', 'first commit\n\nwith a body');
      const dir = await h.newDir();
      const fetched = await h.client.cloneOrFetch(remote.url, 'main', dir);
      expect(fetched).toMatchObject({ sha: a, message: 'first commit\n\nwith a body' });
      expect(fetched.author).toMatch(/^.+ <.+@.+>$/);
      expect(fetched.time.getTime()).not.toBeNaN();
      expect(await h.client.commit(dir, FETCHED_REF)).toEqual(fetched);
      expect(await h.client.commit(dir, a)).toEqual(fetched);
    });

    it('lists a tree and reads its blobs from the object store', async () => {
      const a = await remote.commit('main', 'files', {
        'deployments/web.yaml': 'kind: Deployment\n',
        'deployments/team/api.yml': 'kind: Deployment # api\n',
        'deployments/link.yaml': { symlink: '../../../etc/passwd' },
        'services/web.yaml': 'kind: Service\n',
        'README.md': 'hello\n',
      });
      const dir = await h.newDir();
      await h.client.cloneOrFetch(remote.url, 'main', dir);
      const entries = await h.client.listTree(dir, a, ['deployments', 'nodes', 'README.md']);
      expect(entries.map((e) => [e.path, e.kind, e.mode, e.size])).toEqual([
        ['README.md', 'file', '100644', 6],
        ['deployments/link.yaml', 'symlink', '120000', 19],
        ['deployments/team/api.yml', 'file', '100644', 23],
        ['deployments/web.yaml', 'file', '100644', 17],
      ]);
      const blobs = await h.client.readBlobs(
        dir,
        entries.map((e) => e.oid),
      );
      expect(entries.map((e) => blobs.get(e.oid)?.toString())).toEqual([
        'hello\n',
        '../../../etc/passwd',
        'kind: Deployment # api\n',
        'kind: Deployment\n',
      ]);
      expect(await h.client.listTree(dir, a, ['nope'])).toEqual([]);
    });

    it('reads an older fetched commit after a newer one was fetched (consistent by construction)', async () => {
      const a = await remote.commit('main', 'a', { 'x.yaml': 'one\n' });
      const dir = await h.newDir();
      await h.client.cloneOrFetch(remote.url, 'main', dir);
      const [old] = await h.client.listTree(dir, a, ['x.yaml']);
      const b = await remote.commit('main', 'b', { 'x.yaml': 'two\n' });
      expect((await h.client.cloneOrFetch(remote.url, 'main', dir)).sha).toBe(b);
      expect((await h.client.readBlobs(dir, [old!.oid])).get(old!.oid)?.toString()).toBe('one\n');
    });

    it('readBlobs of an object that is not there rejects with GitReadFailed', async () => {
      await remote.commit('main', 'a');
      const dir = await h.newDir();
      await h.client.cloneOrFetch(remote.url, 'main', dir);
      const err = await h.client.readBlobs(dir, ['0'.repeat(40)]).catch((e: unknown) => e);
      expect(isOrunError(err, GitErrorCode.ReadFailed)).toBe(true);
    });

    it('checks out a work tree and reads HEAD', async () => {
      const a = await remote.commit('main', 'a');
      const dir = await h.newDir();
      await h.client.checkout(dir, (await h.client.cloneOrFetch(remote.url, 'main', dir)).sha);
      const b = await remote.commit('main', 'b');
      expect((await h.client.cloneOrFetch(remote.url, 'main', dir)).sha).toBe(b);
      // Fetching does not move HEAD; checkout does.
      expect((await h.client.commit(dir, 'HEAD'))?.sha).toBe(a);
      await h.client.checkout(dir, b);
      expect((await h.client.commit(dir, 'HEAD'))?.sha).toBe(b);
    });

    it('follows a force-push backwards', async () => {
      const a = await remote.commit('main', 'a');
      const dir = await h.newDir();
      await h.client.cloneOrFetch(remote.url, 'main', dir);
      const b = await remote.commit('main', 'b');
      expect((await h.client.cloneOrFetch(remote.url, 'main', dir)).sha).toBe(b);
      await remote.forcePush('main', a);
      expect(await h.client.lsRemote(remote.url, 'main')).toBe(a);
      expect((await h.client.cloneOrFetch(remote.url, 'main', dir)).sha).toBe(a);
      expect((await h.client.commit(dir, FETCHED_REF))?.sha).toBe(a);
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
      expect((await h.client.cloneOrFetch(remote.url, 'main', dir)).sha).toMatch(/^[0-9a-f]{40}$/);
    });

    it('rejects an invalid branch name with GitInvalidOptions', async () => {
      const err = await h.client.lsRemote(remote.url, '--upload-pack=x').catch((e: unknown) => e);
      expect(isOrunError(err, GitErrorCode.InvalidOptions)).toBe(true);
    });
  });
}

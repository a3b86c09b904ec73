/**
 * GitSource against real git: a bare repository in a temp dir and a work clone that pushes.
 * Poll intervals are 100 ms, so every wait below is a few polls at most.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { GitCliClient } from '../../runtime/git/cli-client.ts';
import { GitSource, GitSourceReason } from '../../runtime/git/source.ts';
import type { GitRevision, GitSourceOptions } from '../../runtime/git/source.ts';
import { countingClient, makeBareRemote, requireGit, tempRoot } from './support.ts';
import type { BareRemote } from './support.ts';

const POLL = 100;
const WAIT = { timeout: 10_000, interval: 20 };

beforeAll(() => {
  requireGit();
});

let root: string;
let cleanup: () => void;
let remote: BareRemote;
const stops: (() => Promise<void>)[] = [];

beforeEach(() => {
  ({ root, cleanup } = tempRoot());
  remote = makeBareRemote(root);
});

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  cleanup();
});

function run(opts: Partial<GitSourceOptions> = {}) {
  const counted = countingClient(new GitCliClient());
  const registry = new Registry();
  const source = new GitSource({
    remote: remote.url,
    dir: join(root, 'data', 'repo'),
    pollInterval: POLL,
    client: counted.client,
    registry,
    ...opts,
  });
  const revisions: GitRevision[] = [];
  source.revisions$.subscribe((r) => revisions.push(r));
  const ac = new AbortController();
  const done = source.start(ac.signal);
  stops.push(async () => {
    ac.abort();
    await done;
  });
  return { source, revisions, calls: counted.calls, registry, dir: source.dir };
}

describe('GitSource with real git', () => {
  it.each([
    ['file:// URL', (r: BareRemote) => r.url],
    ['plain path', (r: BareRemote) => r.path],
  ])('first sync from a %s fetches the tip and reads its files from the object store', async (_name, url) => {
    const a = remote.commit('main', 'first', { files: { 'deployments/web.yaml': 'kind: Deployment\n' } });
    const { source, revisions, dir } = run({ remote: url(remote) });
    await source.synced;
    expect(revisions.map((r) => r.revision)).toEqual([`main@sha1:${a}`]);
    expect(revisions[0]).toMatchObject({
      commit: a,
      message: 'first',
      author: 'Orun Test <test@orun.invalid>',
    });
    const files = revisions[0]!.files;
    const listed = await files.list(['deployments']);
    expect((await files.read(listed)).get('deployments/web.yaml')?.toString()).toBe('kind: Deployment\n');
    // No work tree until someone asks for one.
    expect(existsSync(join(dir, 'deployments'))).toBe(false);
    expect(await source.checkout(a)).toBe(dir);
    expect(readFileSync(join(dir, 'deployments/web.yaml'), 'utf8')).toBe('kind: Deployment\n');
    expect(source.status()).toMatchObject({ ready: true, reason: GitSourceReason.Succeeded });
  });

  it('runs only ls-remote while the branch is unchanged', async () => {
    remote.commit('main', 'a');
    const { source, calls } = run();
    await source.synced;
    await vi.waitFor(() => expect(calls.lsRemote).toBeGreaterThanOrEqual(5), WAIT);
    expect(calls.cloneOrFetch).toBe(1);
    expect(calls.checkout ?? 0).toBe(0);
  });

  it('picks up a new commit and a force-push backwards', async () => {
    const a = remote.commit('main', 'a', { files: { 'a.txt': 'a' } });
    const { source, revisions, dir } = run();
    await source.synced;
    const b = remote.commit('main', 'b', { files: { 'b.txt': 'b' } });
    await vi.waitFor(() => expect(source.current()?.commit).toBe(b), WAIT);
    await source.checkout(b);
    expect(existsSync(join(dir, 'b.txt'))).toBe(true);
    remote.forcePush('main', a);
    await vi.waitFor(() => expect(source.current()?.commit).toBe(a), WAIT);
    await source.checkout(a);
    expect(existsSync(join(dir, 'b.txt'))).toBe(false);
    // The older revision still reads its own tree.
    const old = revisions[1]!.files;
    expect((await old.read(await old.list(['b.txt']))).get('b.txt')?.toString()).toBe('b');
    expect(revisions.map((r) => r.commit)).toEqual([a, b, a]);
  });

  it('keeps the last revision while the remote is gone and recovers when it returns', async () => {
    const a = remote.commit('main', 'a', { files: { 'a.txt': 'a' } });
    const { source, dir, registry } = run({ maxBackoff: 400 });
    await source.synced;
    await source.checkout(a);
    remote.breakRemote();
    await vi.waitFor(() => expect(source.status().consecutiveFailures).toBeGreaterThanOrEqual(2), WAIT);
    expect(source.status()).toMatchObject({
      ready: false,
      reason: GitSourceReason.GitOperationFailed,
      revision: `main@sha1:${a}`,
    });
    expect(source.status().message).toMatch(/^git: ls-remote .*: fatal: /);
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('a');
    expect(await registry.metrics()).toMatch(/orun_git_errors_total\{operation="ls-remote"\} [1-9]/);

    remote.restoreRemote();
    const b = remote.commit('main', 'b');
    await vi.waitFor(() => expect(source.current()?.commit).toBe(b), WAIT);
    expect(source.status()).toMatchObject({ ready: true, consecutiveFailures: 0 });
  });

  it('reuses the commit a previous run fetched without fetching again', async () => {
    const a = remote.commit('main', 'a');
    const first = run();
    await first.source.synced;
    await stops.pop()!();
    const second = run();
    await second.source.synced;
    expect(second.calls.cloneOrFetch ?? 0).toBe(0);
    expect(second.revisions.map((r) => r.commit)).toEqual([a]);
  });

  it('reports a missing branch and picks it up once pushed', async () => {
    remote.commit('main', 'a');
    const { source } = run({ branch: 'staging' });
    await vi.waitFor(() => expect(source.status().reason).toBe(GitSourceReason.BranchNotFound), WAIT);
    const s = remote.commit('staging', 'on staging');
    await vi.waitFor(() => expect(source.current()?.revision).toBe(`staging@sha1:${s}`), WAIT);
  });

  it('never shows https credentials in status', async () => {
    const { source } = run({ remote: 'https://deploy:hunter2@127.0.0.1:1/org/repo.git' });
    await vi.waitFor(() => expect(source.status().consecutiveFailures).toBeGreaterThanOrEqual(1), WAIT);
    expect(source.status().reason).toBe(GitSourceReason.GitOperationFailed);
    expect(source.status().message).not.toContain('hunter2');
    expect(source.status().message).toContain('https://***@127.0.0.1:1/org/repo.git');
  });
});

import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OrunError, isOrunError } from '../../apis/errors.ts';
import { GitErrorCode } from './client.ts';
import { FakeClock } from '../clock/index.ts';
import { FakeGitClient } from './fake-client.ts';
import { GitSource, GitSourceErrorCode, GitSourceReason } from './source.ts';
import type { GitRevision, GitSourceOptions } from './source.ts';

const REMOTE = 'file:///fake/repo.git';
const POLL = 100;

interface Harness {
  client: FakeGitClient;
  clock: FakeClock;
  registry: Registry;
  source: GitSource;
  revisions: GitRevision[];
  logs: string[];
  stop: () => Promise<void>;
}

const running: Harness[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop();
});

function start(opts: Partial<GitSourceOptions> & { client?: FakeGitClient } = {}): Harness {
  const client = opts.client ?? new FakeGitClient();
  const clock = new FakeClock();
  const registry = new Registry();
  const logs: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString());
        cb();
      },
    }),
  );
  const source = new GitSource({
    remote: REMOTE,
    dir: '/fake/data/repo',
    pollInterval: POLL,
    maxBackoff: 1000,
    client,
    clock,
    registry,
    logger,
    ...opts,
  });
  const revisions: GitRevision[] = [];
  source.revisions$.subscribe((r) => revisions.push(r));
  const ac = new AbortController();
  const done = source.start(ac.signal);
  const h: Harness = {
    client,
    clock,
    registry,
    source,
    revisions,
    logs,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
  running.push(h);
  return h;
}

/** Lets the loop run until it sleeps on the clock; returns the delay it chose. */
async function idle(h: Harness): Promise<number> {
  await vi.waitFor(() => expect(h.clock.pendingTimers()).toBe(1), { timeout: 1000, interval: 1 });
  return h.clock.nextTimerIn() ?? -1;
}

/** Fires the pending poll timer and waits until the loop sleeps again; returns the new delay. */
async function tick(h: Harness): Promise<number> {
  h.clock.step(await idle(h));
  await vi.waitFor(() => expect(h.clock.pendingTimers()).toBe(1), { timeout: 1000, interval: 1 });
  return idle(h);
}

describe('GitSource', () => {
  it('fetches on the first poll, emits the revision (files from the object store) and reports ready', async () => {
    const client = new FakeGitClient();
    const c = client.push(REMOTE, 'main', 'first\n\nbody', {
      files: { 'deployments/web.yaml': 'kind: x\n' },
    });
    const h = start({ client });
    await h.source.synced;
    expect(await idle(h)).toBe(POLL);
    expect(h.source.hasSynced()).toBe(true);
    expect(h.revisions).toMatchObject([
      {
        revision: `main@sha1:${c.sha}`,
        commit: c.sha,
        branch: 'main',
        dir: '/fake/data/repo',
        message: 'first\n\nbody',
        author: c.author,
        time: c.time,
      },
    ]);
    const files = h.revisions[0]!.files;
    const listed = await files.list(['deployments']);
    expect(listed.map((e) => e.path)).toEqual(['deployments/web.yaml']);
    expect((await files.read(listed)).get('deployments/web.yaml')?.toString()).toBe('kind: x\n');
    expect(h.source.status()).toMatchObject({
      ready: true,
      reason: GitSourceReason.Succeeded,
      revision: `main@sha1:${c.sha}`,
      consecutiveFailures: 0,
      message: `fetched revision 'main@sha1:${c.sha}'`,
    });
    expect(client.calls).toMatchObject({ lsRemote: 1, cloneOrFetch: 1, checkout: 0 });
  });

  it('only runs ls-remote while the branch is unchanged', async () => {
    const client = new FakeGitClient();
    client.push(REMOTE, 'main', 'a');
    const h = start({ client });
    await h.source.synced;
    for (let i = 0; i < 5; i++) expect(await tick(h)).toBe(POLL);
    expect(client.calls).toMatchObject({ lsRemote: 6, cloneOrFetch: 1, checkout: 0 });
    expect(h.revisions).toHaveLength(1);
  });

  it('is level-based: reads the branch and the poll interval at every poll, and follows a change without a restart', async () => {
    const client = new FakeGitClient();
    const a = client.push(REMOTE, 'main', 'a');
    const s = client.push(REMOTE, 'staging', 's');
    let live = { branch: 'main', pollIntervalMs: POLL };
    const h = start({ client, branch: () => live.branch, pollInterval: () => live.pollIntervalMs });
    await h.source.synced;
    expect(await idle(h)).toBe(POLL);
    live = { branch: 'staging', pollIntervalMs: 3 * POLL };
    // The wait under way keeps its length; the next poll reads the new settings.
    expect(await tick(h)).toBe(3 * POLL);
    expect(h.source.branch).toBe('staging');
    expect(h.revisions.map((r) => [r.branch, r.commit])).toEqual([
      ['main', a.sha],
      ['staging', s.sha],
    ]);
    expect(h.source.status()).toMatchObject({ ready: true, revision: `staging@sha1:${s.sha}` });
    // Back to main, whose tip is a commit already seen: a revision of main again.
    live = { branch: 'main', pollIntervalMs: POLL };
    expect(await tick(h)).toBe(POLL);
    expect(h.revisions.map((r) => r.revision)).toEqual([
      `main@sha1:${a.sha}`,
      `staging@sha1:${s.sha}`,
      `main@sha1:${a.sha}`,
    ]);
    expect(h.logs.some((l) => l.includes('tracked branch changed'))).toBe(true);
  });

  it('follows new commits and a force-push backwards', async () => {
    const client = new FakeGitClient();
    const a = client.push(REMOTE, 'main', 'a');
    const h = start({ client });
    await h.source.synced;
    const b = client.push(REMOTE, 'main', 'b');
    await tick(h);
    client.setBranch(REMOTE, 'main', a);
    await tick(h);
    expect(h.revisions.map((r) => r.commit)).toEqual([a.sha, b.sha, a.sha]);
    expect(h.source.current()?.commit).toBe(a.sha);
    expect(client.calls.cloneOrFetch).toBe(3);
  });

  it('adopts the commit a previous run fetched when it is the remote tip, without fetching', async () => {
    const client = new FakeGitClient();
    const a = client.push(REMOTE, 'main', 'a');
    const first = start({ client });
    await first.source.synced;
    await first.stop();
    const fetches = client.calls.cloneOrFetch;
    const second = start({ client });
    await second.source.synced;
    expect(client.calls.cloneOrFetch).toBe(fetches);
    expect(second.revisions.map((r) => r.commit)).toEqual([a.sha]);
    expect(second.source.status().ready).toBe(true);
  });

  it('backs off exponentially while the remote is unreachable, keeps the checkout and recovers', async () => {
    const client = new FakeGitClient();
    const a = client.push(REMOTE, 'main', 'a');
    const h = start({ client });
    await h.source.synced;
    const parked = client.remotes.get(REMOTE);
    client.remotes.delete(REMOTE);
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) delays.push(await tick(h));
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(h.source.status()).toMatchObject({
      ready: false,
      reason: GitSourceReason.GitOperationFailed,
      consecutiveFailures: 6,
      revision: `main@sha1:${a.sha}`,
    });
    expect(h.source.status().message).toMatch(/repository not found/);
    expect(h.source.current()?.commit).toBe(a.sha);

    client.remotes.set(REMOTE, parked!);
    const b = client.push(REMOTE, 'main', 'b');
    expect(await tick(h)).toBe(POLL);
    expect(h.source.status()).toMatchObject({ ready: true, consecutiveFailures: 0 });
    expect(h.revisions.map((r) => r.commit)).toEqual([a.sha, b.sha]);
    expect(h.logs.join('')).toContain('git sync recovered');
  });

  it.each([
    ['lsRemote', 'ls-remote'],
    ['cloneOrFetch', 'fetch'],
  ] as const)('a failing %s is reported, counted and retried', async (op, label) => {
    const client = new FakeGitClient();
    client.push(REMOTE, 'main', 'a');
    client.failNext(op, new OrunError(GitErrorCode.FetchFailed, `git: ${op}: boom`));
    const h = start({ client });
    expect(await idle(h)).toBe(POLL);
    expect(h.source.status()).toMatchObject({
      ready: false,
      reason: 'GitOperationFailed',
      message: `git: ${op}: boom`,
    });
    expect(h.source.hasSynced()).toBe(false);
    await tick(h);
    expect(h.source.status().ready).toBe(true);
    const metrics = await h.registry.metrics();
    expect(metrics).toContain(`orun_git_errors_total{operation="${label}"} 1`);
  });

  it('reports a missing branch as BranchNotFound', async () => {
    const client = new FakeGitClient();
    client.push(REMOTE, 'other', 'a');
    const h = start({ client });
    await idle(h);
    expect(h.source.status()).toMatchObject({ ready: false, reason: GitSourceReason.BranchNotFound });
    expect(client.calls.cloneOrFetch).toBe(0);
  });

  it('syncNow polls at once and resolves with the status of that attempt', async () => {
    const client = new FakeGitClient();
    client.push(REMOTE, 'main', 'a');
    const h = start({ client, pollInterval: 60_000 });
    await h.source.synced;
    await idle(h);
    const b = client.push(REMOTE, 'main', 'b');
    const status = await h.source.syncNow();
    expect(status).toMatchObject({ ready: true, revision: `main@sha1:${b.sha}` });
    expect(h.clock.now() - Date.UTC(2025, 0, 1)).toBe(0);
  });

  it('stops on abort: start resolves, revisions complete, no timer left, synced rejects if never synced', async () => {
    const h = start();
    await idle(h);
    let completed = false;
    h.source.revisions$.subscribe({ complete: () => (completed = true) });
    await h.stop();
    expect(completed).toBe(true);
    expect(h.clock.pendingTimers()).toBe(0);
    const err = await h.source.synced.catch((e: unknown) => e);
    expect(isOrunError(err, GitSourceErrorCode.Stopped)).toBe(true);
    expect((await h.source.syncNow()).reason).toBe(GitSourceReason.GitOperationFailed);
    await expect(h.source.start(new AbortController().signal)).rejects.toMatchObject({
      code: GitSourceErrorCode.AlreadyStarted,
    });
  });

  it('never shows credentials of an https remote in status or logs', async () => {
    const remote = 'https://deploy:hunter2@git.example.com/org/repo.git';
    const client = new FakeGitClient();
    client.push(remote, 'main', 'a');
    client.failNext(
      'lsRemote',
      new OrunError(GitErrorCode.LsRemoteFailed, `git: ls-remote: fatal: unable to access '${remote}/': 403`),
    );
    const h = start({ client, remote });
    await idle(h);
    expect(h.source.status().message).toBe(
      "git: ls-remote: fatal: unable to access 'https://***@git.example.com/org/repo.git/': 403",
    );
    await tick(h);
    expect(h.source.status().ready).toBe(true);
    expect(h.logs.join('')).not.toContain('hunter2');
    expect(h.logs.join('')).toContain('https://***@git.example.com/org/repo.git');
  });

  it('exports orun_git_* metrics with only the current revision', async () => {
    const client = new FakeGitClient();
    const a = client.push(REMOTE, 'main', 'a');
    const h = start({ client });
    await h.source.synced;
    const b = client.push(REMOTE, 'main', 'b');
    await tick(h);
    const text = await h.registry.metrics();
    expect(text).toContain(`orun_git_revision_info{branch="main",revision="main@sha1:${b.sha}"} 1`);
    expect(text).not.toContain(a.sha);
    expect(text).toContain('orun_git_polls_total 2');
    expect(text).toContain('orun_git_consecutive_failures 0');
    expect(text).toContain(
      `orun_git_last_success_timestamp_seconds ${Date.UTC(2025, 0, 1) / 1000 + POLL / 1000}`,
    );
    expect(text).toMatch(/orun_git_operation_duration_seconds_count\{operation="fetch"\} 2/);
    expect(text).toMatch(/orun_git_operation_duration_seconds_count\{operation="ls-remote"\} 2/);
  });

  it('with verify, refuses an unsigned tip without emitting it or re-fetching it', async () => {
    const client = new FakeGitClient();
    client.allowedSigners.set('/keys/allowed_signers', new Set(['ci']));
    const a = client.push(REMOTE, 'main', 'signed', { signedBy: 'ci' });
    const h = start({ client, verify: { allowedSignersFile: '/keys/allowed_signers' } });
    await h.source.synced;
    client.push(REMOTE, 'main', 'unsigned');
    await tick(h);
    await tick(h);
    expect(h.source.status()).toMatchObject({
      ready: false,
      reason: GitSourceReason.InvalidCommitSignature,
      revision: `main@sha1:${a.sha}`,
    });
    expect(client.calls).toMatchObject({ cloneOrFetch: 2, verifyCommit: 2, checkout: 0 });
    const c = client.push(REMOTE, 'main', 'signed again', { signedBy: 'ci' });
    await tick(h);
    expect(h.source.current()?.commit).toBe(c.sha);
  });

  it('with verify as a function, asks it at every fetched commit (trust set by the last applied Node)', async () => {
    const client = new FakeGitClient();
    client.allowedSigners.set('/data/state/allowed_signers', new Set(['alice']));
    let trust: { allowedSignersFile: string } | undefined = undefined;
    const a = client.push(REMOTE, 'main', 'unsigned, trust on first use');
    const h = start({ client, verify: () => trust });
    await h.source.synced;
    expect(h.source.current()?.commit).toBe(a.sha);
    trust = { allowedSignersFile: '/data/state/allowed_signers' }; // the applied Node turned it on
    client.push(REMOTE, 'main', 'unsigned');
    await tick(h);
    expect(h.source.status()).toMatchObject({ reason: GitSourceReason.InvalidCommitSignature });
    expect(h.source.current()?.commit).toBe(a.sha);
    const c = client.push(REMOTE, 'main', 'signed by alice', { signedBy: 'alice' });
    await tick(h);
    expect(h.source.current()?.commit).toBe(c.sha);
  });

  it('checks out a work tree only on demand, once per commit, one at a time', async () => {
    const client = new FakeGitClient();
    const a = client.push(REMOTE, 'main', 'a');
    const h = start({ client });
    await h.source.synced;
    expect(h.source.workTree()).toBeUndefined();
    const [d1, d2] = await Promise.all([h.source.checkout(a.sha), h.source.checkout(a.sha)]);
    expect([d1, d2]).toEqual(['/fake/data/repo', '/fake/data/repo']);
    expect(client.calls.checkout).toBe(1);
    expect(h.source.workTree()).toBe(a.sha);
    const err: unknown = await h.source.checkout('f'.repeat(40)).catch((e: unknown) => e);
    expect(isOrunError(err, GitErrorCode.CheckoutFailed)).toBe(true);
    expect(h.source.workTree()).toBeUndefined();
  });
});

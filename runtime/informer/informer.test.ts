import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { firstValueFrom, map, ReplaySubject, take, toArray } from 'rxjs';
import { OrunError } from '../../apis/errors.ts';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { FakeClock } from '../clock/index.ts';
import { FakeGitClient } from '../git/fake-client.ts';
import { GitSource, type GitSourceOptions } from '../git/source.ts';
import { loadManifestTree, type ManifestTree } from '../manifests/tree.ts';
import { SopsManifestDecryptor } from '../sops/index.ts';
import { Store } from '../store/index.ts';
import type { ManifestLoader } from './deps.ts';
import { GitInformer, type RevisionSource, type SourceRevision } from './informer.ts';
import { FileLastGoodStore, MemoryLastGoodStore, type LastGoodStore } from './lastgood.ts';

const REMOTE = 'file:///fake/informer.git';
const H = 'apiVersion: run.orcra.dev/v0alpha\n';
const dep = (name: string, image = 'nginx:1') =>
  `${H}kind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  image: ${image}\n`;
const node: ApiObject = {
  apiVersion: 'run.orcra.dev/v0alpha',
  kind: 'Node',
  metadata: { name: 'n1' },
  spec: { host: 'h', gitRepo: REMOTE },
};

function start(client: FakeGitClient, lastGood?: LastGoodStore, more: Partial<GitSourceOptions> = {}) {
  const store = new Store();
  const clock = new FakeClock();
  const informer = new GitInformer({
    store,
    nodeName: 'n1',
    source: new GitSource({ remote: REMOTE, branch: 'main', dir: '/fake/data/repo', client, clock, ...more }),
    loader: loadManifestTree,
    decryptor: new SopsManifestDecryptor(() => Promise.resolve(undefined)),
    fallbackNode: () => node,
    retryMs: 1,
    saveRetryMs: 1,
    ...(lastGood === undefined ? {} : { lastGood }),
  });
  const ac = new AbortController();
  const done = informer.start(ac.signal);
  return {
    store,
    informer,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

async function waitUntil(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ok(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(ok()).toBe(true);
}

describe('GitInformer', () => {
  it('reads a revision from the object store; a symlinked manifest is an error of that file, never read', async () => {
    const client = new FakeGitClient();
    client.push(REMOTE, 'main', 'a', {
      files: {
        'deployments/web.yaml': dep('web'),
        'deployments/escape.yaml': { symlink: '../../../../etc/passwd' },
        'deployments/notes.txt': 'not a manifest',
      },
    });
    const h = start(client);
    const applied = await firstValueFrom(h.informer.applied$);
    expect(h.store.list('Deployment').map((d) => d.metadata.name)).toEqual(['web']);
    expect(applied.errors).toEqual([
      expect.objectContaining({
        file: 'deployments/escape.yaml',
        code: 'read_failed',
        message: expect.stringContaining('symbolic link') as string,
      }),
    ]);
    // Two reads in all: one listing, one batch of blobs (the symlink's blob is not among them).
    expect(client.calls).toMatchObject({ listTree: 1, readBlobs: 1 });
    await h.stop();
  });

  it('a kind directory committed as a symlink is an error of that path (as orun validate says), never listed', async () => {
    const client = new FakeGitClient();
    client.push(REMOTE, 'main', 'a', {
      files: { 'deployments/web.yaml': dep('web'), services: { symlink: '/etc' } },
    });
    const h = start(client);
    const applied = await firstValueFrom(h.informer.applied$);
    expect(h.store.list('Deployment').map((d) => d.metadata.name)).toEqual(['web']);
    expect(applied.errors.map((e) => [e.file, e.code, e.message])).toEqual([
      ['services', 'read_failed', 'is a symbolic link; links are never followed (commit the file itself)'],
    ]);
    await h.stop();
  });

  it('reads a revision again when reading it failed, until it loads', async () => {
    const client = new FakeGitClient();
    client.push(REMOTE, 'main', 'a', { files: { 'deployments/web.yaml': dep('web') } });
    client.failNext('readBlobs', new OrunError('GitReadFailed', 'boom'));
    const h = start(client);
    await firstValueFrom(h.informer.applied$);
    expect(h.store.list('Deployment').map((d) => d.metadata.name)).toEqual(['web']);
    expect(client.calls.readBlobs).toBe(2);
    await h.stop();
  });
});

describe('GitInformer: the Node moves the node to another branch (level-based)', () => {
  it('applies only the Node, then the same source reads the branch from it and the other branch is applied', async () => {
    const client = new FakeGitClient();
    const nodeFile = `${H}kind: Node\nmetadata:\n  name: n1\nspec:\n  host: h\n  gitRepo: ${REMOTE}\n  gitBranch: staging\n`;
    client.push(REMOTE, 'main', 'a', {
      files: { 'nodes/n1.yaml': nodeFile, 'deployments/prod.yaml': dep('prod') },
    });
    client.push(REMOTE, 'staging', 's', {
      files: { 'nodes/n1.yaml': nodeFile, 'deployments/stage.yaml': dep('stage') },
    });
    const store = new Store();
    const branch = (): string =>
      (store.get('Node', 'n1')?.spec as { gitBranch?: string } | undefined)?.gitBranch ?? 'main';
    const source = new GitSource({
      remote: REMOTE,
      branch,
      dir: '/fake/data/repo',
      client,
      clock: new FakeClock(),
    });
    const informer = new GitInformer({
      store,
      nodeName: 'n1',
      source,
      loader: loadManifestTree,
      decryptor: new SopsManifestDecryptor(() => Promise.resolve(undefined)),
      fallbackNode: () => node,
      branchOf: (n) => (n.spec as { gitBranch?: string }).gitBranch ?? 'main',
    });
    const applied = firstValueFrom(informer.applied$);
    const ac = new AbortController();
    const done = informer.start(ac.signal);
    const result = await applied;
    expect(result.branch).toBe('staging');
    // main's Deployment was never applied: only its Node, which moved the source.
    expect(store.list('Deployment').map((d) => d.metadata.name)).toEqual(['stage']);
    expect(informer.source()).toBe(source);
    expect(source.branch).toBe('staging');
    ac.abort();
    await done;
  });
});

/** One agent run on the remote's tip: the Deployments the store holds once it is applied. */
async function runOnce(client: FakeGitClient, lastGood: LastGoodStore): Promise<string[]> {
  const h = start(client, lastGood);
  await firstValueFrom(h.informer.applied$);
  const out = h.store
    .list('Deployment')
    .map((d) => `${d.metadata.name}:${(d.spec as { image: string }).image}`);
  await h.stop();
  return out;
}

describe('GitInformer: last good objects survive a restart', () => {
  // Issue 9 bug 2: a restart while a file was broken pruned that file's Deployment.
  it.each([
    { name: 'a YAML error', broken: `${dep('web')}  ports: [oops\n` },
    { name: 'a Deployment without spec', broken: `${H}kind: Deployment\nmetadata:\n  name: web\n` },
  ])('keeps a broken file’s objects across a restart ($name)', async ({ broken }) => {
    const client = new FakeGitClient();
    const saved = new MemoryLastGoodStore();
    client.push(REMOTE, 'main', 'a', { files: { 'deployments/web.yaml': dep('web', 'nginx:2') } });
    expect(await runOnce(client, saved)).toEqual(['web:nginx:2']);
    client.push(REMOTE, 'main', 'b', { files: { 'deployments/web.yaml': broken } });
    expect(await runOnce(client, saved)).toEqual(['web:nginx:2']);
  });

  it('drops the objects of a file really deleted from Git', async () => {
    const client = new FakeGitClient();
    const saved = new MemoryLastGoodStore();
    client.push(REMOTE, 'main', 'a', {
      files: { 'deployments/web.yaml': dep('web'), 'deployments/api.yaml': dep('api') },
    });
    await runOnce(client, saved);
    client.push(REMOTE, 'main', 'b', { files: { 'deployments/api.yaml': dep('api') } });
    expect(await runOnce(client, saved)).toEqual(['api:nginx:1']);
  });

  it('keeps working from memory when the disk is full', async () => {
    const client = new FakeGitClient();
    const saved = new MemoryLastGoodStore();
    saved.failing = true;
    client.push(REMOTE, 'main', 'a', { files: { 'deployments/web.yaml': dep('web') } });
    const h = start(client, saved);
    await firstValueFrom(h.informer.applied$);
    const next = firstValueFrom(h.informer.applied$);
    client.push(REMOTE, 'main', 'b', { files: { 'deployments/web.yaml': 'kind: [' } });
    await h.informer.source().syncNow();
    await next;
    expect(h.store.list('Deployment').map((d) => d.metadata.name)).toEqual(['web']);
    expect(h.informer.saveError()).toMatch(/disk full|ENOSPC|write/i);
    // Space comes back: the save is tried again on its own, and the error clears.
    saved.failing = false;
    await waitUntil(() => h.informer.saveError() === undefined);
    expect([...(await saved.load()).objects.keys()]).toEqual(['deployments/web.yaml']);
    await h.stop();
  });

  it('saves to a file and reads it back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'orun-lastgood-'));
    try {
      const file = new FileLastGoodStore(join(dir, 'state', 'last-good.json'));
      const client = new FakeGitClient();
      client.push(REMOTE, 'main', 'a', { files: { 'deployments/web.yaml': dep('web') } });
      await runOnce(client, file);
      expect([...(await file.load()).objects.keys()]).toEqual(['deployments/web.yaml']);
      client.push(REMOTE, 'main', 'b', { files: { 'deployments/web.yaml': 'kind: [' } });
      expect(await runOnce(client, file)).toEqual(['web:nginx:1']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('GitInformer: a restart while Git has no revision to apply runs the last good objects', () => {
  const deployments = (store: Store): string[] =>
    store.list('Deployment').map((d) => `${d.metadata.name}:${(d.spec as { image: string }).image}`);

  async function savedRun(client: FakeGitClient): Promise<{ saved: MemoryLastGoodStore; revision: string }> {
    const saved = new MemoryLastGoodStore();
    const h = start(client, saved);
    const first = await firstValueFrom(h.informer.applied$);
    await h.stop();
    return { saved, revision: first.revision };
  }

  it('Git unreachable: the saved objects are applied (said restored), then the next commit replaces them', async () => {
    const up = new FakeGitClient();
    up.push(REMOTE, 'main', 'a', {
      files: { 'deployments/web.yaml': dep('web', 'nginx:2'), 'deployments/api.yaml': dep('api') },
    });
    const { saved, revision } = await savedRun(up);
    const down = new FakeGitClient(); // no remote: unreachable
    const h = start(down, saved);
    const restored = await firstValueFrom(h.informer.applied$);
    expect(h.informer.hasSynced()).toBe(true);
    expect(restored).toMatchObject({ revision, branch: 'main', errors: [] });
    expect(restored.restored?.message).toContain('Git has given no revision');
    expect(h.informer.source().status().ready).toBe(false);
    expect(deployments(h.store).sort()).toEqual(['api:nginx:1', 'web:nginx:2']);
    // Git is back with a new commit: it is applied like any other.
    const next = firstValueFrom(h.informer.applied$);
    down.push(REMOTE, 'main', 'b', { files: { 'deployments/web.yaml': dep('web', 'nginx:3') } });
    await h.informer.source().syncNow();
    const applied = await next;
    expect(applied.restored).toBeUndefined();
    expect(deployments(h.store)).toEqual(['web:nginx:3']);
    await h.stop();
  });

  it('the tip’s signature refused: the saved objects are applied; nothing else is', async () => {
    const client = new FakeGitClient();
    client.allowedSigners.set('/keys/allowed_signers', new Set(['ci']));
    client.push(REMOTE, 'main', 'a', { files: { 'deployments/web.yaml': dep('web') }, signedBy: 'ci' });
    const { saved } = await savedRun(client);
    client.push(REMOTE, 'main', 'b', { files: { 'deployments/evil.yaml': dep('evil') } });
    const h = start(client, saved, { verify: { allowedSignersFile: '/keys/allowed_signers' } });
    const restored = await firstValueFrom(h.informer.applied$);
    expect(restored.restored).toBeDefined();
    expect(h.informer.source().status().reason).toBe('InvalidCommitSignature');
    expect(deployments(h.store)).toEqual(['web:nginx:1']);
    await h.stop();
  });

  it('the revision cannot be read: the saved objects are applied, and the revision when it reads', async () => {
    const client = new FakeGitClient();
    client.push(REMOTE, 'main', 'a', { files: { 'deployments/web.yaml': dep('web') } });
    const { saved } = await savedRun(client);
    client.push(REMOTE, 'main', 'b', { files: { 'deployments/web.yaml': dep('web', 'nginx:2') } });
    client.failNext('readBlobs', new OrunError('GitReadFailed', 'boom'));
    const h = start(client, saved);
    const results = h.informer.applied$.pipe(take(2), toArray());
    const [restored, loaded] = await firstValueFrom(results);
    expect(restored?.restored?.message).toContain('could not be loaded (boom)');
    expect(loaded?.restored).toBeUndefined();
    expect(deployments(h.store)).toEqual(['web:nginx:2']);
    await h.stop();
  });

  // A ServiceGraph reads its Orchfiles from a work tree: the saved revision's is written again
  // from the objects the previous run fetched, so graphs are adopted instead of waiting.
  const graph = {
    'servicegraphs/g.yaml': `${H}kind: ServiceGraph\nmetadata:\n  name: g\nspec:\n  orchfiles: [stack/Orchfile]\n`,
    'stack/Orchfile': 'SERVICE web\nRUN sleep 100\n',
  };

  it('Git unreachable, a ServiceGraph saved: the saved revision is checked out again from the local objects', async () => {
    const client = new FakeGitClient();
    const a = client.push(REMOTE, 'main', 'a', { files: graph });
    const { saved } = await savedRun(client);
    client.remotes.clear(); // unreachable; the objects fetched before are still in the repository
    const checkouts = client.calls.checkout;
    const h = start(client, saved);
    const restored = await firstValueFrom(h.informer.applied$);
    expect(restored.restored).toBeDefined();
    expect(h.store.list('ServiceGraph').map((g) => g.metadata.name)).toEqual(['g']);
    expect(client.calls.checkout).toBe(checkouts + 1);
    expect(h.informer.appliedCheckout()).toEqual({ commit: a.sha, dir: '/fake/data/repo' });
    await h.stop();
  });

  it('the revision cannot be read, a ServiceGraph saved: the saved revision’s work tree serves until one loads', async () => {
    const client = new FakeGitClient();
    const a = client.push(REMOTE, 'main', 'a', { files: graph });
    const { saved } = await savedRun(client);
    const next = { ...graph, 'stack/Orchfile': 'SERVICE web\nRUN sleep 200\n' };
    const b = client.push(REMOTE, 'main', 'b', { files: next });
    client.failNext('readBlobs', new OrunError('GitReadFailed', 'boom'));
    const h = start(client, saved);
    // The work tree each applied result comes with, seen as it is emitted.
    const seen = h.informer.applied$.pipe(
      map((r) => ({ restored: r.restored !== undefined, tree: h.informer.appliedCheckout() })),
      take(2),
      toArray(),
    );
    expect(await firstValueFrom(seen)).toEqual([
      { restored: true, tree: { commit: a.sha, dir: '/fake/data/repo' } },
      { restored: false, tree: { commit: b.sha, dir: '/fake/data/repo' } },
    ]);
    await h.stop();
  });

  it('the saved revision’s objects are gone: no work tree (graphs wait), the objects still apply', async () => {
    const client = new FakeGitClient();
    client.push(REMOTE, 'main', 'a', { files: graph });
    const { saved } = await savedRun(client);
    const h = start(new FakeGitClient(), saved); // a new repository: unreachable, nothing fetched
    const restored = await firstValueFrom(h.informer.applied$);
    expect(restored.restored).toBeDefined();
    expect(h.store.list('ServiceGraph').map((g) => g.metadata.name)).toEqual(['g']);
    expect(h.informer.appliedCheckout()).toBeUndefined();
    await h.stop();
  });

  it('nothing saved: nothing is applied until Git answers (as before)', async () => {
    const h = start(new FakeGitClient(), new MemoryLastGoodStore());
    await h.informer.source().attempted;
    await h.informer.source().syncNow();
    expect(h.informer.hasSynced()).toBe(false);
    expect(h.store.list('Deployment')).toEqual([]);
    await h.stop();
  });
});

describe('GitInformer: a newer commit cuts short a load in progress', () => {
  /** A commit's files in memory (what runtime/git RevisionFiles reads from Git's objects). */
  const tree = (commit: string, files: Record<string, string>): ManifestTree => ({
    commit,
    list: () =>
      Promise.resolve(
        Object.entries(files).map(([path, text]) => ({ path, kind: 'file' as const, size: text.length })),
      ),
    read: (entries) =>
      Promise.resolve(new Map(entries.map((e) => [e.path, Buffer.from(files[e.path] ?? '')]))),
  });

  /** An informer of `source` into `store` with this loader (no SOPS key). */
  const informerOf = (source: RevisionSource, store: Store, loader: ManifestLoader) =>
    new GitInformer({
      store,
      nodeName: 'n1',
      source,
      loader,
      decryptor: new SopsManifestDecryptor(() => Promise.resolve(undefined)),
      fallbackNode: () => node,
    });

  class FakeSource implements RevisionSource {
    readonly revisions = new ReplaySubject<SourceRevision>(1);
    readonly revisions$ = this.revisions.asObservable();
    #current: SourceRevision | undefined;
    current(): SourceRevision | undefined {
      return this.#current;
    }
    emit(commit: string, files: Record<string, string>): void {
      this.#current = {
        revision: `main@sha1:${commit}`,
        commit,
        branch: 'main',
        dir: '/x',
        files: tree(commit, files),
      };
      this.revisions.next(this.#current);
    }
    start(signal: AbortSignal): Promise<void> {
      return new Promise((res) => signal.addEventListener('abort', () => res(), { once: true }));
    }
  }

  it('abandons the stale load (its signal aborted, nothing of it applied) and applies the newest', async () => {
    const source = new FakeSource();
    const store = new Store();
    const started: { commit: string; signal: AbortSignal | undefined }[] = [];
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    let firstStarted!: () => void;
    const firstIsLoading = new Promise<void>((r) => (firstStarted = r));
    // The real loader, held before its first file for commit c1 (as a large revision is while
    // it yields between files).
    const loader: ManifestLoader = async (t, options) => {
      started.push({ commit: t.commit, signal: options.signal });
      if (t.commit === 'c1') {
        firstStarted();
        await firstHeld;
      }
      return loadManifestTree(t, options);
    };
    const informer = informerOf(source, store, loader);
    const results: string[] = [];
    informer.applied$.subscribe((r) => results.push(r.commit));
    const ac = new AbortController();
    const done = informer.start(ac.signal);
    source.emit('c1', { 'deployments/old.yaml': dep('old'), 'deployments/web.yaml': dep('web', 'nginx:1') });
    await firstIsLoading;
    const next = firstValueFrom(informer.applied$);
    source.emit('c2', { 'deployments/web.yaml': dep('web', 'nginx:2') });
    expect(started[0]?.signal?.aborted).toBe(true);
    releaseFirst();
    const applied = await next;
    expect(applied.commit).toBe('c2');
    expect(results).toEqual(['c2']);
    expect(started.map((s) => s.commit)).toEqual(['c1', 'c2']);
    expect(started[1]?.signal?.aborted).toBe(false);
    expect(
      store.list('Deployment').map((d) => `${d.metadata.name}:${(d.spec as { image: string }).image}`),
    ).toEqual(['web:nginx:2']);
    ac.abort();
    await done;
  });

  it('a newer commit terminates the decode worker of the load in progress, however long its decode would take', async () => {
    const source = new FakeSource();
    const store = new Store();
    // A decode worker that never answers: the load of c1 could only end by being cut short.
    const hanging = {
      filename: "require('node:worker_threads').parentPort.on('message', () => {});",
      eval: true,
    };
    let decoding!: () => void;
    const c1Decoding = new Promise<void>((r) => (decoding = r));
    const loader: ManifestLoader = (t, options) => {
      if (t.commit !== 'c1') return loadManifestTree(t, options);
      const held: ManifestTree = {
        ...t,
        // Once the blobs are read, the next step (microtasks, no I/O) posts the file to the worker.
        read: async (es) => {
          const blobs = await t.read(es);
          setImmediate(decoding);
          return blobs;
        },
      };
      return loadManifestTree(held, { ...options, workerScript: hanging });
    };
    const informer = informerOf(source, store, loader);
    const ac = new AbortController();
    const done = informer.start(ac.signal);
    const big = `${dep('big')}  env:\n${Array.from({ length: 1000 }, (_, i) => `    K${i}: v\n`).join('')}`;
    expect(big.length).toBeGreaterThan(8 * 1024);
    source.emit('c1', { 'deployments/big.yaml': big });
    await c1Decoding;
    const next = firstValueFrom(informer.applied$);
    source.emit('c2', { 'deployments/web.yaml': dep('web', 'nginx:2') });
    expect((await next).commit).toBe('c2');
    expect(store.list('Deployment').map((d) => d.metadata.name)).toEqual(['web']);
    ac.abort();
    await done;
  });

  it('the tree loader parses no file of a revision over the repository limit, whatever their order (as orun validate)', async () => {
    const files = { 'deployments/a.yaml': dep('a'), 'deployments/b.yaml': dep('b') };
    const repo = await loadManifestTree(tree('c1', files), {
      limits: { maxFileBytes: 1000, maxRepoBytes: 100 },
    });
    expect(repo.objects).toEqual([]);
    expect(repo.errors.map((e) => [e.file, e.code, e.message])).toEqual(
      ['deployments/a.yaml', 'deployments/b.yaml'].map((f) => [
        f,
        'too_large',
        `file is ${dep('a').length * 2} bytes, over the limit of 100 for all manifest files of the repository; not parsed`,
      ]),
    );
  });

  it('the tree loader stops before the next file once its signal aborts (manifests.superseded)', async () => {
    const ac = new AbortController();
    ac.abort();
    const err: unknown = await loadManifestTree(tree('c1', { 'deployments/a.yaml': dep('a') }), {
      signal: ac.signal,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'manifests.superseded' });
  });
});

describe('GitInformer: duplicate names across a restart', () => {
  it('the file the running object came from keeps it after a restart, even when the newcomer sorts later', async () => {
    const client = new FakeGitClient();
    const saved = new MemoryLastGoodStore();
    client.push(REMOTE, 'main', 'a', { files: { 'deployments/a-web.yaml': dep('web', 'nginx:1') } });
    expect(await runOnce(client, saved)).toEqual(['web:nginx:1']);
    client.push(REMOTE, 'main', 'b', {
      files: {
        'deployments/a-web.yaml': dep('web', 'nginx:1'),
        'deployments/z-web.yaml': dep('web', 'evil:1'),
      },
    });
    expect(await runOnce(client, saved)).toEqual(['web:nginx:1']);
    expect(await runOnce(client, saved)).toEqual(['web:nginx:1']);
  });
});

import { describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { OrunError } from '../../apis/errors.ts';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { FakeClock } from '../clock/index.ts';
import { FakeGitClient } from '../git/fake-client.ts';
import { GitSource } from '../git/source.ts';
import { Store } from '../store/index.ts';
import { GitInformer } from './informer.ts';

const REMOTE = 'file:///fake/informer.git';
const H = 'apiVersion: run.orcra.dev/v0alpha\n';
const dep = (name: string) => `${H}kind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  image: nginx:1\n`;
const node: ApiObject = {
  apiVersion: 'run.orcra.dev/v0alpha',
  kind: 'Node',
  metadata: { name: 'n1' },
  spec: { host: 'h', gitRepo: REMOTE },
};

function start(client: FakeGitClient) {
  const store = new Store();
  const clock = new FakeClock();
  const informer = new GitInformer({
    store,
    nodeName: 'n1',
    settings: { branch: 'main', pollIntervalMs: 1000 },
    newSource: (s) =>
      new GitSource({ remote: REMOTE, branch: s.branch, dir: '/fake/data/repo', client, clock }),
    fallbackNode: () => node,
    retryMs: 1,
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

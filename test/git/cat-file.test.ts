import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CatFile } from '../../runtime/git/cat-file.ts';
import { GitCliClient } from '../../runtime/git/cli-client.ts';
import { makeBareRemote, requireGit, tempRoot } from './support.ts';

beforeAll(() => {
  requireGit();
});

describe('CatFile (one git cat-file --batch-command per repository)', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it('fails an aborted request alone: a concurrent request on the same process gets its answer', async () => {
    const { root, cleanup } = tempRoot();
    cleanups.push(cleanup);
    const remote = makeBareRemote(root);
    const sha = remote.commit('main', 'files', { files: { 'a.yaml': 'one\n', 'b.yaml': 'two\n' } });
    const dir = join(root, 'repo');
    const client = new GitCliClient();
    await client.cloneOrFetch(remote.url, 'main', dir);
    client.close();
    const cat = new CatFile('git', dir, { ...process.env, LC_ALL: 'C' }, 60_000, 5000);
    cleanups.push(() => cat.close());
    const aborter = new AbortController();
    const aborted = cat.contents([`${sha}:a.yaml`], aborter.signal);
    const other = cat.contents([`${sha}:b.yaml`, `${sha}:missing.yaml`]);
    aborter.abort();
    await expect(aborted).rejects.toThrow('aborted');
    const [b, missing] = await other;
    expect(b?.data?.toString()).toBe('two\n');
    expect(missing).toBeUndefined();
    // The process still answers.
    const [info] = await cat.info([`${sha}:a.yaml`]);
    expect(info).toMatchObject({ type: 'blob', size: 4 });
  });
});

import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import type { SecretFileOwner } from './index.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeSecretFiles, SecretFilesErrorCode, TmpfsSecretFiles, type SecretFileStore } from './index.ts';

const secret = (v: string) => ({ reveal: () => v });
const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

async function shmRoot(): Promise<string> {
  const r = await mkdtemp('/dev/shm/orun-secretfs-');
  roots.push(r);
  return join(r, 'node-1');
}

interface Subject {
  store: SecretFileStore;
  read: (dir: string, name: string) => Promise<string | undefined>;
  owner: (dir: string, name: string) => Promise<SecretFileOwner>;
}

const subjects: [string, () => Promise<Subject>][] = [
  [
    'TmpfsSecretFiles',
    async () => {
      const store = new TmpfsSecretFiles(await shmRoot());
      return {
        store,
        read: (dir, name) => readFile(join(dir, name), 'utf8').catch(() => undefined),
        owner: async (dir, name) => {
          const st = await stat(join(dir, name));
          return { uid: st.uid, gid: st.gid, mode: st.mode & 0o777 };
        },
      };
    },
  ],
  [
    'FakeSecretFiles',
    () => {
      const store = new FakeSecretFiles();
      return Promise.resolve({
        store,
        read: (dir, name) => Promise.resolve(store.files.get(dir)?.get(name)),
        owner: (dir, name) =>
          Promise.resolve(store.owners.get(join(dir, name)) ?? { uid: -1, gid: -1, mode: -1 }),
      });
    },
  ],
];

describe.each(subjects)('%s contract', (_name, make) => {
  it('writes one directory per hash, never rewrites it, prunes the others', async () => {
    const { store, read } = await make();
    await store.write('web', 'h1', [{ name: 'db', value: secret('one') }]);
    await store.write('web', 'h1', [{ name: 'db', value: secret('changed') }]);
    expect(await read(store.dir('web', 'h1'), 'db')).toBe('one');
    await store.write('web', 'h2', [{ name: 'db', value: secret('two') }]);
    await store.prune('web', 'h2');
    expect(await read(store.dir('web', 'h1'), 'db')).toBeUndefined();
    expect(await read(store.dir('web', 'h2'), 'db')).toBe('two');
    await store.prune('web');
    expect(await read(store.dir('web', 'h2'), 'db')).toBeUndefined();
  });

  it('a file is root’s, 0400, unless its entry sets an owner and mode (Compose uid/gid/mode)', async () => {
    const { store, owner } = await make();
    await store.write('pg', 'h1', [
      { name: 'plain', value: secret('a') },
      { name: 'pg-password', value: secret('b'), owner: { uid: 999, gid: 998, mode: 0o440 } },
    ]);
    expect(await owner(store.dir('pg', 'h1'), 'plain')).toEqual({ uid: 0, gid: 0, mode: 0o400 });
    expect(await owner(store.dir('pg', 'h1'), 'pg-password')).toEqual({ uid: 999, gid: 998, mode: 0o440 });
  });
});

describe('TmpfsSecretFiles', () => {
  it('writes files 0400 in a 0500 directory', async () => {
    const store = new TmpfsSecretFiles(await shmRoot());
    await store.write('web', 'h1', [{ name: 'tls.key', value: secret('k') }]);
    const dir = store.dir('web', 'h1');
    expect((await stat(join(dir, 'tls.key'))).mode & 0o777).toBe(0o400);
    expect((await stat(dir)).mode & 0o777).toBe(0o500);
    expect(await readdir(join(dir, '..'))).toEqual(['h1']); // no temp dir left behind
  });

  it('a directory holding a file given to another user is traversable (0511), never listable', async () => {
    const store = new TmpfsSecretFiles(await shmRoot());
    await store.write('pg', 'h1', [
      { name: 'p', value: secret('k'), owner: { uid: 999, gid: 999, mode: 0o400 } },
    ]);
    expect((await stat(store.dir('pg', 'h1'))).mode & 0o777).toBe(0o511);
  });

  it('refuses a root that is not on a tmpfs, writing nothing', async () => {
    const r = await mkdtemp(join(tmpdir(), 'orun-secretfs-disk-'));
    roots.push(r);
    const fsType = (await import('node:fs/promises')).statfs;
    const onTmpfs = (await fsType(r)).type === 0x01021994;
    const store = new TmpfsSecretFiles(join(r, 'node-1'));
    const write = store.write('web', 'h1', [{ name: 'db', value: secret('x') }]);
    if (onTmpfs) await expect(write).resolves.toBeUndefined();
    else {
      await expect(write).rejects.toMatchObject({ code: SecretFilesErrorCode.NotTmpfs });
      expect(await readdir(join(r, 'node-1'))).toEqual([]);
    }
  });
});

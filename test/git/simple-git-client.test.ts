import { join } from 'node:path';
import { beforeAll } from 'vitest';
import { describeGitClientContract } from '../../runtime/git/client.contract.ts';
import { SimpleGitClient } from '../../runtime/git/simple-git-client.ts';
import { makeBareRemote, requireGit, tempRoot } from './support.ts';

beforeAll(() => {
  requireGit();
});

describeGitClientContract('simple-git (real git)', () => {
  const { root, cleanup } = tempRoot();
  let n = 0;
  return Promise.resolve({
    client: new SimpleGitClient(),
    newDir: () => Promise.resolve(join(root, `checkout-${n++}`)),
    cleanup: () => Promise.resolve(cleanup()),
    newRemote() {
      const r = makeBareRemote(root);
      return Promise.resolve({
        url: r.url,
        commit: (branch: string, message: string) => Promise.resolve(r.commit(branch, message)),
        forcePush: (branch: string, sha: string) => Promise.resolve(r.forcePush(branch, sha)),
        breakRemote: () => Promise.resolve(r.breakRemote()),
        restoreRemote: () => Promise.resolve(r.restoreRemote()),
      });
    },
  });
});

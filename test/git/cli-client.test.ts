import { join } from 'node:path';
import { beforeAll } from 'vitest';
import { describeGitClientContract } from '../../runtime/git/client.contract.ts';
import { GitCliClient } from '../../runtime/git/cli-client.ts';
import { makeBareRemote, requireGit, tempRoot } from './support.ts';

beforeAll(() => {
  requireGit();
});

describeGitClientContract('git CLI (real git)', () => {
  const { root, cleanup } = tempRoot();
  let n = 0;
  return Promise.resolve({
    client: new GitCliClient(),
    newDir: () => Promise.resolve(join(root, `checkout-${n++}`)),
    cleanup: () => Promise.resolve(cleanup()),
    newRemote() {
      const r = makeBareRemote(root);
      return Promise.resolve({
        url: r.url,
        commit: (branch: string, message: string, files?: Record<string, string | { symlink: string }>) =>
          Promise.resolve(r.commit(branch, message, files ? { files } : {})),
        forcePush: (branch: string, sha: string) => Promise.resolve(r.forcePush(branch, sha)),
        breakRemote: () => Promise.resolve(r.breakRemote()),
        restoreRemote: () => Promise.resolve(r.restoreRemote()),
      });
    },
  });
});

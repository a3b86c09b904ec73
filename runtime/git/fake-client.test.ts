import { randomUUID } from 'node:crypto';
import { describeGitClientContract } from './client.contract.ts';
import { FakeGitClient } from './fake-client.ts';
import type { FakeCommit, FakeFile } from './fake-client.ts';

describeGitClientContract('fake', () => {
  const client = new FakeGitClient();
  return Promise.resolve({
    client,
    newDir: () => Promise.resolve(`/fake/${randomUUID()}`),
    cleanup: () => Promise.resolve(),
    newRemote() {
      const url = `file:///fake/${randomUUID()}.git`;
      client.createRemote(url);
      const commits = new Map<string, FakeCommit>();
      let parked: Map<string, FakeCommit> | undefined;
      return Promise.resolve({
        url,
        commit(branch: string, message: string, files?: Record<string, FakeFile>) {
          const c = client.push(url, branch, message, files ? { files } : {});
          commits.set(c.sha, c);
          return Promise.resolve(c.sha);
        },
        forcePush(branch: string, sha: string) {
          const c = commits.get(sha);
          if (c) client.setBranch(url, branch, c);
          return Promise.resolve();
        },
        breakRemote() {
          parked = client.remotes.get(url);
          client.remotes.delete(url);
          return Promise.resolve();
        },
        restoreRemote() {
          if (parked) client.remotes.set(url, parked);
          return Promise.resolve();
        },
      });
    },
  });
});

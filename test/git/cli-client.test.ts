import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll } from 'vitest';
import { describeGitClientContract, type ContractHarness } from '../../runtime/git/client.contract.ts';
import { GitCliClient } from '../../runtime/git/cli-client.ts';
import { makeBareRemote, requireGit, tempRoot } from './support.ts';

beforeAll(() => {
  requireGit();
});

/** The contract's harness around a GitCliClient made in a fresh temp root. */
function harness(client: (root: string) => GitCliClient): () => Promise<ContractHarness> {
  return () => {
    const { root, cleanup } = tempRoot();
    let n = 0;
    return Promise.resolve({
      client: client(root),
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
  };
}

describeGitClientContract(
  'git CLI (real git)',
  harness(() => new GitCliClient()),
);

// git before 2.36 has no `cat-file --batch-command`: the client reads with log, ls-tree and
// cat-file --batch instead, with the same results.
describeGitClientContract(
  'git CLI without cat-file --batch-command (git < 2.36)',
  harness((root) => {
    const binary = join(root, 'old-git');
    writeFileSync(
      binary,
      [
        '#!/bin/sh',
        'for a in "$@"; do',
        '  if [ "$a" = --batch-command ]; then',
        '    echo "error: unknown option \\`batch-command\'" >&2',
        '    echo "usage: git cat-file <type> <object>" >&2',
        '    exit 129',
        '  fi',
        'done',
        'exec git "$@"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    return new GitCliClient({ binary });
  }),
);

/**
 * Real git fixtures: a bare repository in a temp dir and a work clone that commits and pushes,
 * the way a developer would. Commits are made with plumbing (commit-tree) so any branch can be
 * moved anywhere, including backwards.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GitRevision } from '../../runtime/git/source.ts';
import { requireCommand } from '../support/services.ts';

export function requireGit(): void {
  requireCommand('git', 'git', ['--version']);
}

export function git(cwd: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Orun Test',
      GIT_AUTHOR_EMAIL: 'test@orun.invalid',
      GIT_COMMITTER_NAME: 'Orun Test',
      GIT_COMMITTER_EMAIL: 'test@orun.invalid',
      ...env,
    },
  });
}

export function tempRoot(prefix = 'orun-git-'): { root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export interface BareRemote {
  /** Path of the bare repository. */
  path: string;
  /** `file://` URL of it. */
  url: string;
  /** Commits a change to `files` (default: one random file) on `branch` and pushes; returns the sha. */
  commit(
    branch: string,
    message: string,
    opts?: { files?: Record<string, string | { symlink: string }>; signingKey?: string },
  ): string;
  forcePush(branch: string, sha: string): void;
  /** Moves the bare repository away (unreachable) and back. */
  breakRemote(): void;
  restoreRemote(): void;
}

export function makeBareRemote(root: string): BareRemote {
  const path = join(root, `remote-${randomUUID().slice(0, 8)}.git`);
  const work = join(root, `work-${randomUUID().slice(0, 8)}`);
  mkdirSync(path, { recursive: true });
  mkdirSync(work, { recursive: true });
  git(path, ['init', '--quiet', '--bare', '--initial-branch=main']);
  git(work, ['init', '--quiet']);
  git(work, ['remote', 'add', 'origin', path]);
  const push = (sha: string, branch: string, force: boolean) =>
    git(work, ['push', '--quiet', ...(force ? ['--force'] : []), 'origin', `${sha}:refs/heads/${branch}`]);
  return {
    path,
    url: `file://${path}`,
    commit(branch, message, opts = {}) {
      const parent = git(work, ['ls-remote', 'origin', `refs/heads/${branch}`])
        .split('\t')[0]
        ?.trim();
      if (parent) {
        git(work, ['fetch', '--quiet', 'origin', `refs/heads/${branch}`]);
        git(work, ['read-tree', parent]);
      } else {
        git(work, ['read-tree', '--empty']);
      }
      const files = opts.files ?? { [`file-${randomUUID().slice(0, 8)}.txt`]: `${message}\n` };
      for (const [name, content] of Object.entries(files)) {
        const file = join(work, '.tmp-blob');
        writeFileSync(file, typeof content === 'string' ? content : content.symlink);
        const sha = git(work, ['hash-object', '-w', file]).trim();
        const mode = typeof content === 'string' ? '100644' : '120000';
        git(work, ['update-index', '--add', '--cacheinfo', `${mode},${sha},${name}`]);
      }
      const tree = git(work, ['write-tree']).trim();
      const sign = opts.signingKey
        ? ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${opts.signingKey}`]
        : [];
      const sha = git(work, [
        ...sign,
        'commit-tree',
        tree,
        ...(parent ? ['-p', parent] : []),
        ...(opts.signingKey ? ['-S'] : []),
        '-m',
        message,
      ]).trim();
      push(sha, branch, false);
      return sha;
    },
    forcePush(branch, sha) {
      push(sha, branch, true);
    },
    breakRemote() {
      renameSync(path, `${path}.moved`);
    },
    restoreRemote() {
      renameSync(`${path}.moved`, path);
    },
  };
}

/** Counts calls per method of a GitClient (to prove "no fetch when unchanged"). */
export function countingClient<C extends object>(client: C): { client: C; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const proxy = new Proxy(client, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...args: unknown[]) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { client: proxy, calls };
}

/** A file of a revision, read from the object store (undefined when it is not in the tree). */
export async function revisionFile(rev: GitRevision | undefined, path: string): Promise<string | undefined> {
  if (rev === undefined) return undefined;
  return (await rev.files.read(await rev.files.list([path]))).get(path)?.toString('utf8');
}

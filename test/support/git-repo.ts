/**
 * A bare Git repository (the "remote") plus a work tree that commits and pushes to it, for tests
 * that drive the agent through Git exactly as a user would.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'orun-test',
  GIT_AUTHOR_EMAIL: 'test@localhost',
  GIT_COMMITTER_NAME: 'orun-test',
  GIT_COMMITTER_EMAIL: 'test@localhost',
};

export class TestGitRepo {
  /** Root temp dir holding `remote.git` and `work/`. */
  readonly root: string;
  readonly bare: string;
  readonly work: string;
  readonly branch: string;

  constructor(prefix = 'orun-repo-', branch = 'main') {
    this.root = mkdtempSync(join(tmpdir(), prefix));
    this.bare = join(this.root, 'remote.git');
    this.work = join(this.root, 'work');
    this.branch = branch;
    this.git(this.root, 'init', '-q', '--bare', '-b', branch, this.bare);
    this.git(this.root, 'init', '-q', '-b', branch, this.work);
    this.git(this.work, 'remote', 'add', 'origin', this.bare);
  }

  /** Writes (or with `undefined`, deletes) files relative to the repo root. */
  write(files: Readonly<Record<string, string | undefined>>): this {
    for (const [path, text] of Object.entries(files)) {
      const full = join(this.work, path);
      if (text === undefined) rmSync(full, { force: true });
      else {
        mkdirSync(dirname(full), { recursive: true });
        writeFileSync(full, text);
      }
    }
    return this;
  }

  /** Commits everything and pushes; returns the new commit sha. */
  commit(message: string): string {
    this.git(this.work, 'add', '-A');
    this.git(this.work, 'commit', '-q', '--allow-empty', '-m', message);
    this.git(this.work, 'push', '-q', '-f', 'origin', `HEAD:refs/heads/${this.branch}`);
    return this.git(this.work, 'rev-parse', 'HEAD').trim();
  }

  /** Makes the remote unreachable (moves it away); `restoreRemote` brings it back. */
  hideRemote(): void {
    renameSync(this.bare, `${this.bare}.hidden`);
  }

  restoreRemote(): void {
    renameSync(`${this.bare}.hidden`, this.bare);
  }

  /** Pushes the work tree's HEAD (after the remote is back). */
  push(): void {
    this.git(this.work, 'push', '-q', '-f', 'origin', `HEAD:refs/heads/${this.branch}`);
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  private git(cwd: string, ...args: string[]): string {
    return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' });
  }
}

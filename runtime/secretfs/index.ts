/**
 * Secret files for containers, on a tmpfs of the node: `<root>/<deployment>/<hash>/<name>`, root's
 * with mode 0400 unless the entry sets `owner` (uid, gid, mode: Compose's secrets long syntax),
 * directories 0700, bind-mounted read-only at `/run/secrets` in the container. The root
 * must be on tmpfs (or ramfs), checked before anything is written, so a secret never reaches
 * persistent disk. One directory per spec hash: a replacement gets a fresh one, and the old
 * container's files go when it does (`prune`).
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readdir, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OrunError } from '../../apis/errors.ts';

/** Stable codes of this package's errors. */
export const SecretFilesErrorCode = {
  /** The configured root is not on a tmpfs/ramfs: refusing to write secrets to disk. */
  NotTmpfs: 'SecretFilesNotTmpfs',
  /** The root cannot be created or written. */
  Unwritable: 'SecretFilesUnwritable',
} as const;

/** A secret as the writer needs it (runtime/sops SecretString satisfies it). */
export interface SecretContent {
  reveal(): string;
}

/** A file's owner and permission bits. Default: uid 0, gid 0, mode 0o400. */
export interface SecretFileOwner {
  uid: number;
  gid: number;
  mode: number;
}

/** One file to write. */
export interface SecretFileEntry {
  name: string;
  value: SecretContent;
  owner?: SecretFileOwner;
}

const DEFAULT_MODE = 0o400;

/** What the Deployment controller needs (its own interface, satisfied structurally). */
export interface SecretFileStore {
  /** The host directory of one spec hash's files (what the container bind-mounts). */
  dir(deployment: string, hash: string): string;
  /** Writes the files unless that directory already exists. Throws OrunError (codes above). */
  write(deployment: string, hash: string, files: readonly SecretFileEntry[]): Promise<void>;
  /** Removes the deployment's directories, except `keepHash`'s. */
  prune(deployment: string, keepHash?: string): Promise<void>;
}

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/** The real store on a tmpfs directory. */
export class TmpfsSecretFiles implements SecretFileStore {
  readonly root: string;
  #checked = false;

  /** @param root e.g. `/run/orun/secrets/<node>`; must be on tmpfs (checked at the first write). */
  constructor(root: string) {
    this.root = root;
  }

  dir(deployment: string, hash: string): string {
    return join(this.root, deployment, hash);
  }

  async write(deployment: string, hash: string, files: readonly SecretFileEntry[]): Promise<void> {
    const dir = this.dir(deployment, hash);
    if (await exists(dir)) return;
    await this.#checkRoot();
    const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await mkdir(join(this.root, deployment), { recursive: true, mode: 0o700 });
      await mkdir(tmp, { mode: 0o700 });
      for (const f of files) {
        const path = join(tmp, f.name);
        await writeFile(path, f.value.reveal(), { mode: DEFAULT_MODE, flag: 'wx' });
        if (f.owner !== undefined) await chown(path, f.owner.uid, f.owner.gid);
        await chmod(path, f.owner?.mode ?? DEFAULT_MODE);
      }
      // The bind mount's root is this directory: a container user other than root must be able
      // to traverse it to reach a file given to it (never to list it).
      await chmod(tmp, files.some((f) => f.owner !== undefined) ? 0o511 : 0o500);
      await rename(tmp, dir);
    } catch (cause) {
      await rm(tmp, { recursive: true, force: true });
      throw new OrunError(SecretFilesErrorCode.Unwritable, `secret files: write ${dir}: ${code(cause)}`, {
        cause,
        context: { dir },
      });
    }
  }

  async prune(deployment: string, keepHash?: string): Promise<void> {
    const base = join(this.root, deployment);
    let entries: string[];
    try {
      entries = await readdir(base);
    } catch {
      return;
    }
    for (const e of entries) {
      if (e === keepHash) continue;
      await chmod(join(base, e), 0o700).catch(() => undefined); // written 0500; writable again to remove
      await rm(join(base, e), { recursive: true, force: true });
    }
    if (keepHash === undefined) await rm(base, { recursive: true, force: true });
  }

  async #checkRoot(): Promise<void> {
    if (this.#checked) return;
    try {
      await mkdir(this.root, { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw new OrunError(
        SecretFilesErrorCode.Unwritable,
        `secret files: create ${this.root}: ${code(cause)}`,
        {
          cause,
          context: { dir: this.root },
        },
      );
    }
    const fs = await statfs(this.root);
    if (fs.type !== TMPFS_MAGIC && fs.type !== RAMFS_MAGIC) {
      throw new OrunError(
        SecretFilesErrorCode.NotTmpfs,
        `secret files: ${this.root} is not on a tmpfs; refusing to write secrets to persistent disk (set --secrets-dir to a tmpfs directory, e.g. under /run or /dev/shm)`,
        { context: { dir: this.root, fsType: fs.type } },
      );
    }
    this.#checked = true;
  }
}

/** In memory, for controller tests. Passes the same contract suite as the real one. */
export class FakeSecretFiles implements SecretFileStore {
  readonly files = new Map<string, Map<string, string>>();
  /** `<dir>/<name>` → its owner and mode. */
  readonly owners = new Map<string, SecretFileOwner>();
  readonly root: string;

  constructor(root = '/fake/secrets') {
    this.root = root;
  }

  dir(deployment: string, hash: string): string {
    return join(this.root, deployment, hash);
  }

  write(deployment: string, hash: string, files: readonly SecretFileEntry[]): Promise<void> {
    const dir = this.dir(deployment, hash);
    if (this.files.has(dir)) return Promise.resolve();
    this.files.set(dir, new Map(files.map((f) => [f.name, f.value.reveal()])));
    for (const f of files)
      this.owners.set(join(dir, f.name), f.owner ?? { uid: 0, gid: 0, mode: DEFAULT_MODE });
    return Promise.resolve();
  }

  prune(deployment: string, keepHash?: string): Promise<void> {
    const prefix = join(this.root, deployment) + '/';
    for (const dir of [...this.files.keys()]) {
      if (dir.startsWith(prefix) && dir !== this.dir(deployment, keepHash ?? '')) this.files.delete(dir);
    }
    return Promise.resolve();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'error';
}

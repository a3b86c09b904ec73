/**
 * The last good objects of each manifest file, kept on disk so that a restart while a file is
 * broken keeps that file's objects (and never prunes what they run). Only a file gone from Git
 * takes its objects with it; a file that fails to decode, read or verify keeps them.
 *
 * The file is JSON, `{ "version": 1, "files": { "<path>": [objects...] } }`, written to a temporary
 * file and renamed over the old one, so a crash or a full disk leaves the previous copy intact.
 * What is read back is decoded again with the kind's schema: an object this version of orun no
 * longer accepts is dropped rather than applied.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { isKind, manifestSchemas } from '../../apis/run.orcra.dev/v0alpha/scheme.ts';
import type { z } from 'zod';
import { OrunError } from '../../apis/errors.ts';

export type LastGood = ReadonlyMap<string, readonly ApiObject[]>;

/** Where the last good objects live between runs. */
export interface LastGoodStore {
  /** The saved objects; empty when nothing was saved yet. Throws `lastgood.unreadable` for a damaged file. */
  load(): Promise<LastGood>;
  /** Replaces the saved objects. Throws `lastgood.write_failed` (e.g. the disk is full). */
  save(lastGood: LastGood): Promise<void>;
}

interface Saved {
  version: 1;
  files: Record<string, unknown[]>;
}

/** The real store: one JSON file, `<dataDir>/state/last-good.json` in the agent. */
export class FileLastGoodStore implements LastGoodStore {
  readonly #path: string;
  constructor(path: string) {
    this.#path = path;
  }

  async load(): Promise<LastGood> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw new OrunError('lastgood.unreadable', `last good: read ${this.#path}: failed`, { cause: err });
    }
    let saved: Saved;
    try {
      saved = JSON.parse(text) as Saved;
    } catch (err) {
      throw new OrunError('lastgood.unreadable', `last good: read ${this.#path}: not JSON`, { cause: err });
    }
    return decodeSaved(saved);
  }

  async save(lastGood: LastGood): Promise<void> {
    const tmp = `${this.#path}.tmp`;
    const saved: Saved = {
      version: 1,
      files: Object.fromEntries([...lastGood].map(([p, o]) => [p, [...o]])),
    };
    try {
      await mkdir(dirname(this.#path), { recursive: true });
      await writeFile(tmp, JSON.stringify(saved), { mode: 0o600, flush: true });
      await rename(tmp, this.#path);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new OrunError(
        'lastgood.write_failed',
        `last good: write ${this.#path}: ${(err as NodeJS.ErrnoException).code ?? 'failed'}`,
        {
          cause: err,
        },
      );
    }
  }
}

/** An in-memory store with the same contract, for tests. */
export class MemoryLastGoodStore implements LastGoodStore {
  #saved: string | undefined;
  /** Makes the next saves fail as a full disk would. */
  failing = false;

  load(): Promise<LastGood> {
    return Promise.resolve(
      this.#saved === undefined ? new Map() : decodeSaved(JSON.parse(this.#saved) as Saved),
    );
  }

  save(lastGood: LastGood): Promise<void> {
    if (this.failing)
      return Promise.reject(new OrunError('lastgood.write_failed', 'last good: write: ENOSPC'));
    this.#saved = JSON.stringify({ version: 1, files: Object.fromEntries(lastGood) });
    return Promise.resolve();
  }
}

function decodeSaved(saved: Saved): LastGood {
  const out = new Map<string, ApiObject[]>();
  if (saved?.version !== 1 || typeof saved.files !== 'object' || saved.files === null) return out;
  for (const [path, objects] of Object.entries(saved.files)) {
    if (!Array.isArray(objects)) continue;
    const good: ApiObject[] = [];
    for (const raw of objects) {
      const kind = (raw as { kind?: unknown } | null)?.kind;
      if (!isKind(kind)) continue;
      const parsed = (manifestSchemas[kind] as z.ZodType).safeParse(raw);
      if (parsed.success) good.push(parsed.data as ApiObject);
    }
    out.set(path, good);
  }
  return out;
}

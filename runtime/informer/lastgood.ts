/**
 * The last good objects of each manifest file, kept on disk so that a restart while a file is
 * broken keeps that file's objects (and never prunes what they run). Only a file gone from Git
 * takes its objects with it; a file that fails to decode, read or verify keeps them.
 *
 * The file is JSON, `{ "version": 1, "files": { "<path>": [objects...] }, "sealed": { "<path>":
 * {text, commit, sources} }, "revision": "<branch>@sha1:<sha>", "branch": "<branch>", "owners":
 * { "<Kind/name>": "<path>" } }` (the revision the objects were saved at, shown on the Node when a
 * restart runs them before Git answers; the file that owns each name several files define;
 * `"secrets"`: the root secrets.yaml in use, as its ciphertext),
 * written to a temporary file and renamed over the old one, so a crash or a full disk leaves the
 * previous copy intact. What is read back is decoded again with
 * the kind's schema: an object this version of orun no longer accepts is dropped rather than applied.
 *
 * A SOPS-encrypted manifest is never saved as objects (they hold its decrypted values): its last
 * good version is saved `sealed`, as the file's text exactly as it was in Git (ciphertext, MAC and
 * the age-wrapped data key, what the repository clone on the same disk already holds), and is
 * decrypted again with the node's age key when read back. No plaintext is written.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { isKind, manifestSchemas } from '../../apis/run.orcra.dev/v0alpha/scheme.ts';
import type { z } from 'zod';
import { OrunError } from '../../apis/errors.ts';

export type LastGood = ReadonlyMap<string, readonly ApiObject[]>;

/** The last good version of a SOPS-encrypted manifest, kept as its ciphertext. */
export interface SealedFile {
  /** The file's text as it was in Git (sops ciphertext); decrypted again when read back. */
  readonly text: string;
  /** The commit it was read at. */
  readonly commit: string;
  /** `Kind/name` → the object's `run.orcra.dev/source` annotation (names the commit that last changed it). */
  readonly sources: Readonly<Record<string, string>>;
}

/** What is kept between runs: plain files' objects, and SOPS files sealed. */
export interface SavedLastGood {
  readonly objects: LastGood;
  readonly sealed: ReadonlyMap<string, SealedFile>;
  /** The revision (`<branch>@sha1:<sha>`) and branch these objects were saved at. */
  readonly revision?: string;
  readonly branch?: string;
  /** `Kind/name` → the file that owns it, for names several files define (the running object's file). */
  readonly owners?: Readonly<Record<string, string>>;
  /** The root secrets.yaml whose values are in use, as its text in Git (sops ciphertext). */
  readonly secrets?: string;
}

export const EMPTY_SAVED: SavedLastGood = { objects: new Map(), sealed: new Map() };

/** Where the last good objects live between runs. */
export interface LastGoodStore {
  /** The saved objects; empty when nothing was saved yet. Throws `lastgood.unreadable` for a damaged file. */
  load(): Promise<SavedLastGood>;
  /** Replaces the saved objects. Throws `lastgood.write_failed` (e.g. the disk is full). */
  save(saved: SavedLastGood): Promise<void>;
}

interface Saved {
  version: 1;
  files: Record<string, unknown[]>;
  sealed?: Record<string, unknown>;
  revision?: unknown;
  branch?: unknown;
  owners?: unknown;
  secrets?: unknown;
}

function toSaved(s: SavedLastGood): Saved {
  return {
    version: 1,
    files: Object.fromEntries([...s.objects].map(([p, o]) => [p, [...o]])),
    sealed: Object.fromEntries(s.sealed),
    ...(s.revision === undefined ? {} : { revision: s.revision }),
    ...(s.branch === undefined ? {} : { branch: s.branch }),
    ...(s.owners === undefined || Object.keys(s.owners).length === 0 ? {} : { owners: s.owners }),
    ...(s.secrets === undefined ? {} : { secrets: s.secrets }),
  };
}

/** The real store: one JSON file, `<dataDir>/state/last-good.json` in the agent. */
export class FileLastGoodStore implements LastGoodStore {
  readonly #path: string;
  constructor(path: string) {
    this.#path = path;
  }

  async load(): Promise<SavedLastGood> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_SAVED;
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

  async save(saved: SavedLastGood): Promise<void> {
    const tmp = `${this.#path}.tmp`;
    try {
      await mkdir(dirname(this.#path), { recursive: true });
      await writeFile(tmp, JSON.stringify(toSaved(saved)), { mode: 0o600, flush: true });
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
  /** Makes the next saves fail as a full disk would. */
  failing = false;

  /** What was saved last, as written (JSON). */
  text: string | undefined;

  load(): Promise<SavedLastGood> {
    return Promise.resolve(
      this.text === undefined ? EMPTY_SAVED : decodeSaved(JSON.parse(this.text) as Saved),
    );
  }

  save(saved: SavedLastGood): Promise<void> {
    if (this.failing)
      return Promise.reject(new OrunError('lastgood.write_failed', 'last good: write: ENOSPC'));
    this.text = JSON.stringify(toSaved(saved));
    return Promise.resolve();
  }
}

function decodeSaved(saved: Saved): SavedLastGood {
  const at = saved?.version === 1 ? saved : undefined;
  return {
    objects: decodeObjects(saved),
    sealed: decodeSealed(saved),
    ...(typeof at?.revision === 'string' ? { revision: at.revision } : {}),
    ...(typeof at?.branch === 'string' ? { branch: at.branch } : {}),
    owners: decodeOwners(at?.owners),
    ...(typeof at?.secrets === 'string' ? { secrets: at.secrets } : {}),
  };
}

function decodeOwners(raw: unknown): Record<string, string> {
  if (typeof raw !== 'object' || raw === null) return {};
  return Object.fromEntries(
    Object.entries(raw).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

function decodeSealed(saved: Saved): Map<string, SealedFile> {
  const out = new Map<string, SealedFile>();
  if (saved?.version !== 1 || typeof saved.sealed !== 'object' || saved.sealed === null) return out;
  for (const [path, raw] of Object.entries(saved.sealed)) {
    const f = raw as Partial<SealedFile> | null;
    if (typeof f?.text !== 'string' || typeof f.commit !== 'string') continue;
    const sources = Object.fromEntries(
      Object.entries(typeof f.sources === 'object' && f.sources !== null ? f.sources : {}).filter(
        (e): e is [string, string] => typeof e[1] === 'string',
      ),
    );
    out.set(path, { text: f.text, commit: f.commit, sources });
  }
  return out;
}

function decodeObjects(saved: Saved): LastGood {
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

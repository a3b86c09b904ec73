/**
 * `orun diff` on the agent: a manifest tree on disk → the snapshot this node would apply (same
 * decode, SOPS decryption and node selection as the informer) → planChanges against the store.
 * A tree with manifest errors gives the errors and no changes: the agent would keep those
 * files' last good objects, which a plan from the tree alone cannot show.
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../../apis/errors.ts';
import { decodeManifestFile } from '../../apis/run.orcra.dev/v0alpha/decode.ts';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { ServiceGraphSpec } from '../../apis/run.orcra.dev/v0alpha/servicegraph.ts';
import type { DiffRequest, DiffResult } from '../../runtime/api/diff.ts';
import { buildSnapshot, EMPTY_MEMORY, type LoadedFile } from '../../runtime/informer/index.ts';
import { decryptManifest, hasSopsBlock, ManifestDecryptError } from '../../runtime/sops/index.ts';
import { loadManifestRepo } from '../../runtime/manifests/load.ts';
import { WORKER_MIN_BYTES } from '../../runtime/manifests/decoder.ts';
import type { AgeIdentities, SecretString } from '../../runtime/sops/index.ts';
import { loadDesired } from '../servicegraph/desired.ts';
import { planChanges, type GraphShape } from './plan.ts';

export interface TreeDiffDeps {
  nodeName: string;
  /** The store's objects of the compared kinds. */
  current: () => readonly ApiObject[];
  /** The revision the store holds. */
  revision: () => string | undefined;
  /** This node's Node when the tree has none (as the informer's fallback). */
  fallbackNode: () => ApiObject;
  identities: () => Promise<AgeIdentities | undefined>;
  /** Plaintext of a secret the store holds (the informer's resolver). */
  currentSecret: (ciphertext: string) => SecretString | undefined;
  /** The applied revision's work tree, when there is one (ServiceGraph Orchfiles). */
  currentCheckout: () => { dir: string } | undefined;
  dataDir: string;
  suspended?: (key: string, next: ApiObject | undefined) => boolean;
}

/** Both sides' Orchfiles are read under one virtual root, so ORCH_PROJECT does not differ. */
const VIRTUAL_ROOT = '/orun-diff-tree';

export async function diffTree(req: DiffRequest, deps: TreeDiffDeps): Promise<DiffResult> {
  const { files, secrets } = await loadTree(req.dir, deps.identities);
  const errors = files.flatMap((f) => f.errors);
  const revision = deps.revision();
  const head = {
    ...(revision === undefined ? {} : { currentRevision: revision }),
    ...(req.label === undefined ? {} : { label: req.label }),
  };
  if (errors.length > 0) return { ...head, changes: [], errors };
  const built = buildSnapshot(files, EMPTY_MEMORY, {
    nodeName: deps.nodeName,
    fallbackNode: deps.fallbackNode,
  });
  const checkout = deps.currentCheckout();
  const changes = planChanges({
    current: deps.current(),
    next: built.objects,
    currentSecret: deps.currentSecret,
    nextSecret: (c) => secrets.get(c),
    graph: (sg, side) => {
      const dir = side === 'next' ? req.dir : checkout?.dir;
      return dir === undefined ? undefined : graphShape(sg, dir, deps.dataDir);
    },
    ...(deps.suspended === undefined ? {} : { suspended: deps.suspended }),
  });
  return { ...head, changes, errors: [] };
}

function graphShape(sg: ApiObject, dir: string, dataDir: string): GraphShape | undefined {
  const r = loadDesired(
    { name: sg.metadata.name, spec: sg.spec as ServiceGraphSpec },
    { dir: VIRTUAL_ROOT, commit: 'diff' },
    { dataDir, readFile: (p) => readFileSync(join(dir, p.slice(VIRTUAL_ROOT.length)), 'utf8') },
  );
  if (!r.ok) return undefined;
  const requires: Record<string, readonly string[]> = {};
  for (const s of r.desired.graph.services) requires[s.name] = s.requires;
  return { hashes: r.desired.serviceHashes, requires };
}

async function loadTree(
  dir: string,
  identities: () => Promise<AgeIdentities | undefined>,
): Promise<{ files: LoadedFile[]; secrets: Map<string, SecretString> }> {
  // In the agent: large files are decoded off the event loop, as the informer's are.
  const repo = await loadManifestRepo(dir, { workerMinBytes: WORKER_MIN_BYTES });
  const secrets = new Map<string, SecretString>();
  const files: LoadedFile[] = [];
  let ids: Promise<AgeIdentities | undefined> | undefined;
  for (const f of repo.files) {
    const sourceErrors = f.errors.map((e) => ({
      file: e.file,
      line: e.line,
      col: e.col,
      path: e.path,
      code: e.code,
      message: e.message,
    }));
    if (f.errors.length === 0) {
      files.push({ path: f.path, objects: f.objects, errors: [] });
      continue;
    }
    const text = await readFile(join(dir, f.path), 'utf8').catch(() => '');
    if (!hasSopsBlock(text)) {
      files.push({ path: f.path, objects: f.objects, errors: sourceErrors });
      continue;
    }
    try {
      const plain = await decryptManifest(text, await (ids ??= identities()));
      const decoded = decodeManifestFile(f.path, plain.text, {});
      for (const [c, s] of plain.secrets) secrets.set(c, s);
      files.push({
        path: f.path,
        objects: decoded.objects,
        errors: decoded.errors.map((e) => ({
          file: e.file,
          line: e.line,
          col: e.col,
          path: e.path,
          code: e.code,
          message: e.message,
        })),
      });
    } catch (err) {
      const code = err instanceof ManifestDecryptError ? err.code : 'SopsFailed';
      files.push({
        path: f.path,
        objects: [],
        errors: [{ file: f.path, line: 1, col: 1, path: 'sops', code, message: errorMessage(err) }],
      });
    }
  }
  return { files, secrets };
}

/**
 * GitInformer: the bridge from Git to the store. Each revision of its source is read from Git's
 * object store (its `files`, never a work tree, so a load cannot race a checkout) and decoded file
 * by file (runtime/manifests), SOPS files decrypted, and turned into one snapshot
 * (see snapshot.ts) that is applied to the store. Per-file problems never stop the snapshot:
 * they are logged, recorded as Warning events on this node's Node and kept for its status.
 *
 * The source is level-based: it reads the branch and poll interval at every poll (the agent reads
 * them from the Node in the store), so nothing is rebuilt when the Node manifest changes them.
 * The loader (runtime/manifests) and the SOPS decryptor (runtime/sops) come through the
 * constructor: the informer is runtime core and calls no edge itself.
 */
import { Subject, type Observable, type Subscription } from 'rxjs';
import { errorMessage } from '../../apis/errors.ts';
import { didYouMean } from '../../apis/suggest.ts';
import { SOURCE_ANNOTATION, type ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { ManifestLimits } from '../../apis/run.orcra.dev/v0alpha/limits.ts';
import type { Locator } from '../../apis/run.orcra.dev/v0alpha/decode.ts';
import type { AnyObject } from '../../apis/run.orcra.dev/v0alpha/scheme.ts';
import type { Deployment } from '../../apis/run.orcra.dev/v0alpha/deployment.ts';
import { hostPathErrors } from '../../apis/run.orcra.dev/v0alpha/hostpath.ts';
import type { Node } from '../../apis/run.orcra.dev/v0alpha/node.ts';
import { decodeManifestFile } from '../../apis/run.orcra.dev/v0alpha/decode.ts';
import type { ManifestError } from '../../apis/run.orcra.dev/v0alpha/manifesterror.ts';
import type { EventSink } from '../events/index.ts';
import { Redactor, silentLogger, type Logger } from '../log/index.ts';
import type { SyncingRunnable } from '../manager/index.ts';
import type { ManifestTree } from '../manifests/tree.ts';
import type { SecretString } from '../sops/secret.ts';
import type { Store } from '../store/index.ts';
import {
  buildSnapshot,
  duplicateOwners,
  EMPTY_MEMORY,
  restoredMemory,
  type BuildOptions,
  type LoadedFile,
  type SnapshotMemory,
  type SourceError,
} from './snapshot.ts';
import {
  ABSENT,
  hideSecretValues,
  SECRETS_FILE,
  secretsFingerprint,
  type RootSecrets,
  type SecretKeys,
} from './secrets.ts';
import type { DecryptSession, ManifestDecryptor, ManifestLoader } from './deps.ts';
import { hashOf } from '../store/index.ts';
import type { LastGood, LastGoodStore, SavedLastGood, SealedFile } from './lastgood.ts';

/** How often a failed save of the last good objects is tried again. */
const SAVE_RETRY_MS = 5_000;
const RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;

/** The kinds every snapshot is complete for. */
export const SNAPSHOT_KINDS: readonly string[] = ['Node', 'Deployment', 'Service', 'ServiceGraph'];

/** One fetched commit, as runtime/git's GitSource emits it. */
export interface SourceRevision {
  /** `<branch>@sha1:<sha>`. */
  revision: string;
  commit: string;
  branch: string;
  /** The repository dir; its work tree holds this commit only after the source's `checkout`. */
  dir: string;
  /** This commit's files, read from the object store. */
  files: ManifestTree;
}

/** What the informer needs of a source (runtime/git GitSource satisfies it). */
export interface RevisionSource {
  readonly revisions$: Observable<SourceRevision>;
  start(signal: AbortSignal): Promise<void>;
  current(): SourceRevision | undefined;
  /** Writes a work tree of `commit` (for what needs files on disk); resolves with its dir. */
  checkout?(commit: string): Promise<string>;
  /** Polls now (the branch it reads may have changed). */
  syncNow?(): Promise<unknown>;
  /** Resolves when the first poll has finished, with or without a revision (GitSource.attempted). */
  readonly attempted?: Promise<unknown>;
}

/** The outcome of the last applied revision. */
export interface InformerResult {
  revision: string;
  commit: string;
  branch: string;
  /** Manifest problems at this revision (their files keep their last good objects). */
  errors: SourceError[];
  keptFiles: string[];
  objects: number;
  notSelected: number;
  /** RFC 3339 of when it was applied. */
  appliedAt: string;
  /**
   * Why this revision was not reconciled (only this node's fallback Node was applied; every
   * other object stays as the last reconciled revision left it). Unset when it was.
   */
  refused?: { reason: 'UnknownNode'; message: string; known: string[] };
  /**
   * Set when the store holds the last good objects a previous run saved, not a revision loaded
   * in this run: at start, Git had no revision that could be applied (unreachable, the tip refused,
   * the revision unreadable). `message` says why; the next revision that loads replaces it.
   */
  restored?: { message: string };
}

/** The refusal for a node name the repository's `nodes/` folder does not have. */
export function unknownNodeRefusal(
  node: string,
  known: readonly string[],
  revision: string,
): InformerResult['refused'] {
  const hint = didYouMean(node, known);
  return {
    reason: 'UnknownNode',
    known: [...known],
    message:
      `no nodes/${node}.yaml at ${revision}: refusing to reconcile; the repository's nodes are ` +
      `${known.length > 0 ? known.join(', ') : '(none that decode)'}${hint ? ` (${hint})` : ''}; ` +
      `start orun with --node set to one of them, or commit nodes/${node}.yaml`,
  };
}

export interface GitInformerOptions<S extends RevisionSource = RevisionSource> {
  store: Pick<Store, 'apply'>;
  /** The source of revisions; it reads its own settings (branch, poll interval) at each poll. */
  source: S;
  /** Decodes a revision's manifest files (runtime/manifests `loadManifestTree`). */
  loader: ManifestLoader;
  /** Decrypts SOPS files and values (runtime/sops `SopsManifestDecryptor`). */
  decryptor: ManifestDecryptor;
  nodeName: string;
  /** This node's Node when the repository has none for it. */
  fallbackNode: () => ApiObject;
  /**
   * The branch this node's Node wants the source on (its gitBranch, unless a flag pins one). A
   * revision whose Node names another branch is not reconciled: only the Node is applied and
   * the source is asked to poll again (it reads the branch from the Node just applied), so a
   * node never runs the other branch's objects on its way (e.g. after a restart, which starts on
   * the default branch). Default: the source's branch (never moves).
   */
  branchOf?: (node: ApiObject) => string;
  /** Warning events go on this node's Node. Default: none. */
  events?: EventSink;
  /** Default: silent. */
  logger?: Logger;
  /** Default: Date.now. */
  now?: () => number;
  /** First pause before reading a revision again after a read failed (doubles up to 60 s). Default 1000. */
  retryMs?: number;
  /** Pause before saving the last good objects again after a save failed (a full data dir). Default 5000. */
  saveRetryMs?: number;
  /**
   * Where each file's last good objects are kept between runs, so a restart with a broken file
   * never prunes its objects. Default: none (memory only). The agent uses `<dataDir>/state/last-good.json`.
   */
  lastGood?: LastGoodStore;
  /** Size limits checked before reading. Default: DEFAULT_MANIFEST_LIMITS. */
  limits?: ManifestLimits;
  /** The agent's data dir, refused as a hostPath beside the Node's own dataDir (apis hostpath.ts). Default: none. */
  dataDir?: string;
}

export class GitInformer<S extends RevisionSource = RevisionSource> implements SyncingRunnable {
  readonly name = 'git-informer';
  readonly #o: GitInformerOptions<S>;
  readonly #log: Logger;
  readonly #applied = new Subject<InformerResult>();
  /** Emits after every applied revision. */
  readonly applied$: Observable<InformerResult> = this.#applied.asObservable();
  readonly #secretsChanged = new Subject<void>();
  /** Emits after a revision changed the root secrets.yaml's values or their availability. */
  readonly secretsChanged$: Observable<void> = this.#secretsChanged.asObservable();
  #secretsFingerprint = '';
  readonly #source: S;
  #memory: SnapshotMemory = EMPTY_MEMORY;
  #fileSecrets = new Map<string, Map<string, SecretString>>();
  #secrets = new Map<string, SecretString>();
  #rootSecrets: RootSecrets = ABSENT;
  /** secrets.yaml's text (ciphertext) whose values #rootSecrets holds; last-good.json keeps it. */
  #rootText: string | undefined;
  #fileRedactions = new Map<string, FileRedactions>();
  /** Each SOPS file's last good text (ciphertext) and commit: what last-good.json keeps of it. */
  #fileSealed = new Map<string, Omit<SealedFile, 'sources'>>();
  #redactions: Redactions = mergeRedactions([]);
  #last: InformerResult | undefined;
  #reported = new Set<string>();
  #savedHash: string | undefined;
  /** The last save's failure (a full data dir), until a save succeeds. */
  #saveError: string | undefined;
  #saveRetry: NodeJS.Timeout | undefined;
  #saveSeq = 0;
  #saveChain: Promise<void> = Promise.resolve();
  /** Positions of the fields of the revision being loaded (for the host-path policy's errors). */
  #locate: Locator | undefined;
  /** The commit the source's work tree holds (checked out for ServiceGraphs) and its dir, if any. */
  #workTree: { commit: string; dir: string } | undefined;
  #refused: string | undefined;
  /** What a previous run saved (revision, branch), until it is applied or a revision loads. */
  #restored: { revision: string; branch: string } | undefined;

  constructor(o: GitInformerOptions<S>) {
    this.#o = o;
    this.#source = o.source;
    this.#log = (o.logger ?? silentLogger()).child({ component: 'git-informer' });
  }

  hasSynced(): boolean {
    return this.#last !== undefined;
  }

  /** The last applied revision's outcome. */
  lastResult(): InformerResult | undefined {
    return this.#last;
  }

  /** The source. */
  source(): S {
    return this.#source;
  }

  /**
   * The work tree of the revision the store holds, for what needs files on disk (a ServiceGraph's
   * Orchfiles and project directory): undefined before the first applied revision, when it holds
   * no ServiceGraph (no work tree is written then) and while a newer revision replaces it. The last
   * good objects a previous run saved have theirs too (written again from the objects that run
   * fetched), kept until a revision loads: a newer one that cannot be read replaces nothing.
   */
  appliedCheckout(): { dir: string; commit: string } | undefined {
    const applied = this.#last;
    const tree = this.#workTree;
    if (applied === undefined || tree?.commit !== applied.commit) return undefined;
    if (applied.restored === undefined && this.#source.current()?.commit !== applied.commit) return undefined;
    return { dir: tree.dir, commit: tree.commit };
  }

  /** The plaintext of a secret env value the last snapshots decrypted (Deployment controller's resolver). */
  resolveSecret = (ciphertext: string): SecretString | undefined => this.#secrets.get(ciphertext);

  /**
   * Dotted paths of the fields of `Kind/name` that were SOPS-encrypted in Git and are held
   * decrypted (every output redacts them; identity fields excepted).
   */
  secretPathsOf = (kind: string, name: string): readonly string[] =>
    this.#redactions.paths.get(`${kind}/${name}`) ?? [];

  /** Replaces every decrypted value (4 characters or more) in free text with `[REDACTED]`. */
  redactText = (text: string): string => this.#redactions.redactor.redact(text);

  /** The root secrets.yaml's values, for `secretKeyRef`, `envFrom` and `secretFiles`. */
  readonly secretKeys: SecretKeys = {
    get: (key) => (this.#rootSecrets.state === 'ready' ? this.#rootSecrets.values.get(key) : undefined),
    names: () => (this.#rootSecrets.state === 'ready' ? [...this.#rootSecrets.values.keys()] : []),
    unavailable: () => {
      const s = this.#rootSecrets;
      if (s.state === 'ready') return undefined;
      return s.state === 'absent'
        ? 'the repository has no secrets.yaml'
        : `secrets.yaml could not be decrypted (${s.code})`;
    },
  };

  async start(signal: AbortSignal): Promise<void> {
    await this.#restoreLastGood();
    const source = this.#source;
    let chain = Promise.resolve();
    let retry: NodeJS.Timeout | undefined;
    let failures = 0;
    /** Aborts the load in progress: a newer revision was seen (it is loaded next, never a mix). */
    let loading: AbortController | undefined;
    const load = (rev: SourceRevision): void => {
      clearTimeout(retry);
      chain = chain.then(async () => {
        if (signal.aborted || source.current()?.commit !== rev.commit) return;
        loading = new AbortController();
        const failed = await this.#process(source, rev, AbortSignal.any([signal, loading.signal]));
        loading = undefined;
        if (failed === undefined) {
          failures = 0;
          return;
        }
        await this.#applyRestored(`revision ${rev.revision} could not be loaded (${failed})`);
        // A revision that could not be read (a git failure) is read again, backing off, until
        // it loads or a newer one replaces it: the poll will not emit it a second time.
        const delay = Math.min((this.#o.retryMs ?? RETRY_MS) * 2 ** failures++, MAX_RETRY_MS);
        retry = setTimeout(() => load(rev), delay);
        retry.unref();
      });
    };
    const sub: Subscription = source.revisions$.subscribe((rev) => {
      failures = 0;
      loading?.abort();
      load(rev);
    });
    // The first poll brought no revision (Git unreachable, the tip's signature refused): run the
    // last good objects a previous run saved, so controllers adopt what runs and status is written.
    void source.attempted?.then(() => {
      chain = chain.then(async () => {
        if (!signal.aborted && source.current() === undefined)
          await this.#applyRestored('Git has given no revision that can be applied yet (see GitSynced)');
      });
    });
    try {
      await source.start(signal);
    } finally {
      sub.unsubscribe();
      await chain;
      clearTimeout(retry);
    }
    clearTimeout(this.#saveRetry);
    this.#applied.complete();
    this.#secretsChanged.complete();
  }

  /** Loads and applies one revision; the error when it could not be read (worth another try). */
  async #process(
    source: RevisionSource,
    rev: SourceRevision,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    const log = this.#log.child({ revision: rev.revision });
    try {
      const loaded = await this.#load(rev, signal);
      const { files } = loaded;
      if (signal.aborted || source.current()?.commit !== rev.commit) {
        log.info('a newer revision was fetched while loading; skipping this one');
        return undefined;
      }
      const built = buildSnapshot(files, this.#memory, this.#buildOptions());
      const wanted = this.#o.branchOf?.(built.node);
      if (wanted !== undefined && wanted !== rev.branch && !built.unknownNode) {
        this.#o.store.apply({ kinds: ['Node'], objects: [built.node], revision: rev.revision });
        log.info({ branch: wanted }, 'the Node tracks another branch; moving there before reconciling');
        void source.syncNow?.();
        return undefined;
      }
      // Only ServiceGraphs read files on disk; the work tree is written before the store holds
      // the revision, so whoever sees it there finds its files.
      if (source.checkout && built.objects.some((o) => o.kind === 'ServiceGraph')) {
        this.#workTree = undefined;
        const dir = await source.checkout(rev.commit);
        this.#workTree = { commit: rev.commit, dir };
      }
      await this.#applyLoaded(rev, loaded, built, log);
      return undefined;
    } catch (err) {
      if (signal.aborted) {
        // A newer revision cut this load short (or the agent stops): nothing of it is applied.
        log.info('a newer revision was fetched while loading; abandoning this one');
        return undefined;
      }
      log.error({ err: errorMessage(err) }, 'loading revision failed; the store keeps the previous one');
      return errorMessage(err);
    }
  }

  /** Applies a loaded revision: saves its last good objects, commits its secrets, applies the store, reports. */
  async #applyLoaded(
    rev: SourceRevision,
    loaded: LoadedRevision,
    built: ReturnType<typeof buildSnapshot>,
    log: Logger,
  ): Promise<void> {
    const { files } = loaded;
    // A file's secrets are its new ones only where its new objects are its last good ones.
    const winners = new Map<string, FileState>();
    for (const f of files) {
      const state = loaded.states.get(f.path);
      if (state !== undefined && built.memory.lastGood.get(f.path) === f.objects) winners.set(f.path, state);
    }
    const at = {
      revision: rev.revision,
      branch: rev.branch,
      owners: duplicateOwners(built.memory),
      ...(loaded.rootText === undefined ? {} : { secrets: loaded.rootText }),
    };
    await this.#saveLastGood({ ...this.#persistable(built.memory.lastGood, winners), ...at }, log);
    const refused =
      built.unknownNode && unknownNodeRefusal(this.#o.nodeName, built.unknownNode.known, rev.revision);
    // The revision's secrets (secrets.yaml's values, each file's opened values) change together
    // with its objects, in one synchronous step: a reconcile never mixes one revision's secrets
    // with another's objects (which would roll a container to a spec no commit had).
    this.#commit(loaded.root, loaded.rootText, winners);
    const kept = [...built.memory.lastGood.keys()];
    for (const p of [...this.#fileRedactions.keys()]) if (!kept.includes(p)) this.#fileRedactions.delete(p);
    for (const p of [...this.#fileSealed.keys()]) if (!kept.includes(p)) this.#fileSealed.delete(p);
    this.#openRestoredInline(built.memory.lastGood);
    this.#useSecretsOf(kept);
    // Refused: only the Node (status needs a home); the rest keeps what was last reconciled.
    const applied = this.#o.store.apply({
      kinds: refused ? ['Node'] : SNAPSHOT_KINDS,
      objects: refused ? [built.node] : built.objects,
      revision: rev.revision,
    });
    this.#memory = built.memory;
    this.#restored = undefined;
    this.#last = {
      revision: rev.revision,
      commit: rev.commit,
      branch: rev.branch,
      errors: built.errors,
      keptFiles: built.keptFiles,
      objects: built.objects.length,
      notSelected: built.notSelected,
      appliedAt: new Date((this.#o.now ?? Date.now)()).toISOString(),
      ...(refused ? { refused } : {}),
    };
    this.#report(built.node, built.errors, built.keptFiles, log);
    if (refused && this.#refused !== refused.message) {
      log.error({ node: this.#o.nodeName, knownNodes: refused.known }, refused.message);
      this.#o.events?.event(built.node, 'Warning', refused.reason, refused.message);
    }
    this.#refused = refused?.message;
    log.info(
      {
        objects: built.objects.length,
        notSelected: built.notSelected,
        added: applied.added.length,
        updated: applied.updated.length,
        deleted: applied.deleted.length,
        errors: built.errors.length,
      },
      'applied revision',
    );
    this.#applied.next(this.#last);
    const fingerprint = secretsFingerprint(this.#rootSecrets);
    if (fingerprint !== this.#secretsFingerprint) {
      this.#secretsFingerprint = fingerprint;
      this.#secretsChanged.next();
    }
  }

  #buildOptions(): BuildOptions {
    const locate = this.#locate;
    return {
      nodeName: this.#o.nodeName,
      fallbackNode: this.#o.fallbackNode,
      ...(locate === undefined ? {} : { locate: (obj, path) => locate(obj as AnyObject, path) }),
      objectErrors: (obj, node) =>
        obj.kind === 'Deployment'
          ? hostPathErrors(obj as Deployment, node as Node, this.#locate, {
              ...(this.#o.dataDir === undefined ? {} : { dataDir: this.#o.dataDir }),
            }).map(toSourceError)
          : [],
    };
  }

  /** The secrets and redactions of the files kept (`kept`), plus secrets.yaml's values. */
  #useSecretsOf(kept: readonly string[]): void {
    this.#secrets = new Map(kept.flatMap((p) => [...(this.#fileSecrets.get(p) ?? [])]));
    const root = this.#rootSecrets.state === 'ready' ? [...this.#rootSecrets.values.values()] : [];
    this.#redactions = mergeRedactions([
      ...kept.flatMap((p) => this.#fileRedactions.get(p) ?? []),
      { paths: new Map(), plaintexts: [...this.#secrets.values(), ...root].map((v) => v.reveal()) },
    ]);
  }

  /**
   * No revision of this run could be applied yet (`why`): the store gets the last good objects a
   * previous run saved, once, so controllers start and adopt what runs (they restart nothing whose
   * spec is unchanged) and the Node's status is written. These are exactly the objects that run
   * had in its store (each file's last good ones, selected and deduplicated as then), so nothing
   * is pruned that it had not pruned already. Not when they name no Node of this node in a
   * repository with `nodes/` (that run only applied its Node then): nothing is applied.
   */
  async #applyRestored(why: string): Promise<void> {
    const restored = this.#restored;
    if (restored === undefined || this.#last !== undefined) return;
    this.#restored = undefined;
    const files = [...this.#memory.lastGood].map(([path, objects]) => ({ path, objects, errors: [] }));
    const built = buildSnapshot(files, this.#memory, this.#buildOptions());
    if (built.unknownNode) {
      this.#log.warn('the saved last good objects name no Node for this node; not applying them');
      return;
    }
    if (built.objects.some((o) => o.kind === 'ServiceGraph'))
      await this.#checkoutRestored(commitOf(restored.revision));
    const kept = [...built.memory.lastGood.keys()];
    this.#openRestoredInline(built.memory.lastGood);
    this.#useSecretsOf(kept);
    this.#o.store.apply({ kinds: SNAPSHOT_KINDS, objects: built.objects, revision: restored.revision });
    this.#memory = built.memory;
    const message = `running the last good objects saved at ${restored.revision} by a previous run: ${why}`;
    this.#last = {
      revision: restored.revision,
      commit: commitOf(restored.revision),
      branch: restored.branch,
      errors: built.errors,
      keptFiles: [],
      objects: built.objects.length,
      notSelected: built.notSelected,
      appliedAt: new Date((this.#o.now ?? Date.now)()).toISOString(),
      restored: { message },
    };
    this.#log.warn({ revision: restored.revision, objects: built.objects.length }, message);
    this.#applied.next(this.#last);
  }

  /**
   * ServiceGraphs read their Orchfiles from a work tree: the saved revision's is written again from
   * the objects the previous run fetched (no network needed). If they are gone, graphs wait for a
   * revision from Git (WaitingForCheckout) with their services left running.
   */
  async #checkoutRestored(commit: string): Promise<void> {
    const source = this.#source;
    if (source.checkout === undefined || !/^[0-9a-f]{40,64}$/.test(commit)) return;
    this.#workTree = undefined;
    try {
      this.#workTree = { commit, dir: await source.checkout(commit) };
    } catch (err) {
      this.#log.warn(
        { commit, err: errorMessage(err) },
        'the work tree of the saved revision could not be written; ServiceGraphs wait for a revision from Git',
      );
    }
  }

  /**
   * Starts from the last good objects a previous run saved, so its broken files keep them. A SOPS
   * file was saved as its ciphertext: it is decrypted again here (its secrets and redactions come
   * back with it); if the node's key no longer opens it, its objects cannot be rebuilt.
   */
  async #restoreLastGood(): Promise<void> {
    if (this.#o.lastGood === undefined) return;
    let saved: SavedLastGood;
    try {
      saved = await this.#o.lastGood.load();
    } catch (err) {
      this.#log.error(
        { err: errorMessage(err) },
        'reading the last good objects failed; starting without them',
      );
      return;
    }
    const lastGood = new Map(saved.objects);
    const sops = this.#o.decryptor.session();
    if (saved.secrets !== undefined) {
      const { secrets } = await sops.rootSecrets(saved.secrets);
      if (secrets.state === 'ready') {
        this.#rootSecrets = secrets;
        this.#rootText = saved.secrets;
      } else
        this.#log.error(
          { file: SECRETS_FILE, code: secrets.state === 'failed' ? secrets.code : undefined },
          'the saved copy of secrets.yaml could not be decrypted again; its values are not restored',
        );
    }
    for (const [path, sealed] of saved.sealed) {
      const { file, state } = await this.#openSops(path, sealed.text, sealed.commit, sops);
      if (state === undefined) {
        this.#log.error(
          { file: path, code: file.errors[0]?.code },
          'the saved copy of a SOPS file could not be decrypted again; its last good objects are not restored',
        );
        continue;
      }
      this.#commitFile(path, state);
      lastGood.set(
        path,
        file.objects.map((o) => withSource(o, sealed.sources[`${o.kind}/${o.metadata.name}`])),
      );
    }
    this.#memory = restoredMemory(lastGood, saved.owners ?? {});
    if (lastGood.size > 0)
      this.#restored = { revision: saved.revision ?? 'unknown', branch: saved.branch ?? '' };
    this.#savedHash = hashOf(
      savedForm({
        ...this.#persistable(lastGood),
        owners: saved.owners ?? {},
        ...(this.#rootText === undefined ? {} : { secrets: this.#rootText }),
      }),
    );
    this.#log.info({ files: lastGood.size }, 'restored the last good objects');
  }

  /**
   * What last-good.json keeps: plain files' objects; SOPS files as their ciphertext (no plaintext
   * on disk). `winners`: the files whose state this revision replaces.
   */
  #persistable(lastGood: LastGood, winners: ReadonlyMap<string, FileState> = new Map()): SavedLastGood {
    const objects = new Map<string, readonly ApiObject[]>();
    const sealed = new Map<string, SealedFile>();
    for (const [path, objs] of lastGood) {
      const s = winners.has(path) ? winners.get(path)?.sealed : this.#fileSealed.get(path);
      if (s === undefined) objects.set(path, objs);
      else sealed.set(path, { ...s, sources: sourcesOf(objs) });
    }
    return { objects, sealed };
  }

  /**
   * A plain file restored from last-good.json and broken since has no opened inline values yet:
   * open them from its last good objects with the current data key, so its Deployments keep them.
   */
  #openRestoredInline(lastGood: LastGood): void {
    const dataKey = this.#rootSecrets.state === 'ready' ? this.#rootSecrets.dataKey : undefined;
    if (dataKey === undefined) return;
    const sops = this.#o.decryptor.session();
    for (const [path, objects] of lastGood) {
      if (this.#fileSecrets.has(path) || this.#fileSealed.has(path)) continue;
      const opened = sops.inlineValues({ path, objects }, dataKey, () => undefined);
      if (opened.errors.length === 0) this.#fileSecrets.set(path, opened.secrets);
    }
  }

  /**
   * Saves when changed. A failure (a full data dir) leaves the previous copy on disk intact (the
   * store writes a temporary file and renames it), is logged and reported (`saveError()`: the
   * Node's StateSaved condition), and the save is tried again every SAVE_RETRY_MS until it works.
   */
  #saveLastGood(saved: SavedLastGood, log: Logger): Promise<void> {
    // One save at a time, newest wins: a retry never writes over a newer revision's objects.
    const seq = ++this.#saveSeq;
    const run = this.#saveChain.then(() => (seq === this.#saveSeq ? this.#trySave(saved, log) : undefined));
    this.#saveChain = run.catch(() => undefined);
    return run;
  }

  async #trySave(saved: SavedLastGood, log: Logger): Promise<void> {
    if (this.#o.lastGood === undefined) return;
    clearTimeout(this.#saveRetry);
    const hash = hashOf(savedForm(saved));
    if (hash === this.#savedHash) return;
    try {
      await this.#o.lastGood.save(saved);
      this.#savedHash = hash;
      if (this.#saveError !== undefined) log.info('saving the last good objects works again');
      this.#saveError = undefined;
    } catch (err) {
      const first = this.#saveError === undefined;
      this.#saveError = errorMessage(err);
      if (first)
        log.error(
          { err: this.#saveError },
          'saving the last good objects failed; the previous copy on disk is kept, retrying',
        );
      this.#saveRetry = setTimeout(
        () => void this.#saveLastGood(saved, log),
        this.#o.saveRetryMs ?? SAVE_RETRY_MS,
      );
      this.#saveRetry.unref();
    }
  }

  /** Why the last good objects could not be saved (e.g. `ENOSPC`); undefined when the last save worked. */
  saveError(): string | undefined {
    return this.#saveError;
  }

  /**
   * Every manifest file of the revision (from the object store), SOPS files decrypted. Changes
   * nothing the controllers read: the secrets it opened are returned, for #commit.
   */
  async #load(rev: SourceRevision, signal: AbortSignal): Promise<LoadedRevision> {
    const repo = await this.#o.loader(rev.files, {
      signal,
      extraPaths: [SECRETS_FILE],
      ...(this.#o.limits === undefined ? {} : { limits: this.#o.limits }),
    });
    this.#locate = repo.locate;
    this.#log.debug(
      { revision: rev.revision, files: repo.files.length, decodedInWorker: repo.decodedInWorker },
      'decoded revision',
    );
    if (repo.workerError !== undefined)
      this.#log.warn(
        { revision: rev.revision, err: errorMessage(repo.workerError) },
        'the decode worker failed; this revision was decoded on the main thread',
      );
    const sops = this.#o.decryptor.session();
    const files: LoadedFile[] = [];
    const states = new Map<string, FileState>();
    // On failure the last good values stay in use (as a broken manifest keeps its last good
    // objects) and the error is reported against secrets.yaml.
    const { secrets, error } = await sops.rootSecrets(repo.texts.get(SECRETS_FILE));
    const root =
      secrets.state === 'failed' && this.#rootSecrets.state === 'ready' ? this.#rootSecrets : secrets;
    if (error !== undefined) files.push({ path: SECRETS_FILE, objects: [], errors: [error] });
    const dataKey = root.state === 'ready' ? root.dataKey : undefined;
    for (const f of repo.files) {
      signal.throwIfAborted();
      const text = f.errors.length > 0 ? (repo.texts.get(f.path) ?? '') : '';
      if (f.errors.length === 0 || !sops.isEncrypted(text)) {
        const inline = sops.inlineValues(f, dataKey, repo.locate);
        const errors = [...f.errors.map(toSourceError), ...inline.errors];
        // A file with errors keeps its last good objects, so it keeps their secrets too.
        if (errors.length === 0) states.set(f.path, { secrets: inline.secrets });
        files.push({ path: f.path, objects: errors.length === 0 ? f.objects : [], errors });
        continue;
      }
      const { file, state } = await this.#openSops(f.path, text, rev.commit, sops);
      if (state !== undefined) states.set(f.path, state);
      files.push(file);
    }
    const rootText =
      root === secrets
        ? secrets.state === 'ready'
          ? repo.texts.get(SECRETS_FILE)
          : undefined
        : this.#rootText;
    return { files, root, rootText, states };
  }

  /** Decrypts (MAC verified) and decodes one SOPS-encrypted manifest file; `state` when it decodes. */
  async #openSops(
    path: string,
    text: string,
    commit: string,
    sops: DecryptSession,
  ): Promise<{ file: LoadedFile; state?: FileState }> {
    try {
      const plain = await sops.decryptFile(text);
      const decoded = decodeManifestFile(path, plain.text, { commit });
      const errors = decoded.errors.map((e) => hideSecretValues(toSourceError(e), plain));
      const file = { path, objects: decoded.objects, errors };
      if (decoded.errors.length > 0) return { file };
      const redactions = { paths: plain.secretPaths, plaintexts: plain.plaintexts };
      return { file, state: { secrets: plain.secrets, redactions, sealed: { text, commit } } };
    } catch (err) {
      const code = codeOf(err) ?? 'SopsFailed';
      return {
        file: {
          path,
          objects: [],
          errors: [{ file: path, line: 1, col: 1, path: 'sops', code, message: errorMessage(err) }],
        },
      };
    }
  }

  /** Makes a revision's secrets the ones controllers read (call right before `store.apply`). */
  #commit(root: RootSecrets, rootText: string | undefined, winners: ReadonlyMap<string, FileState>): void {
    this.#rootSecrets = root;
    this.#rootText = rootText;
    for (const [path, state] of winners) this.#commitFile(path, state);
  }

  #commitFile(path: string, state: FileState): void {
    this.#fileSecrets.set(path, state.secrets);
    if (state.redactions === undefined) this.#fileRedactions.delete(path);
    else this.#fileRedactions.set(path, state.redactions);
    if (state.sealed === undefined) this.#fileSealed.delete(path);
    else this.#fileSealed.set(path, state.sealed);
  }

  /** Logs and records each problem once per distinct message (the recorder dedups repeats too). */
  #report(node: ApiObject, errors: readonly SourceError[], kept: readonly string[], log: Logger): void {
    const now = new Set<string>();
    for (const e of errors) {
      const text = formatSourceError(e);
      now.add(text);
      if (this.#reported.has(text)) continue;
      log.warn(
        { file: e.file, line: e.line, col: e.col, path: e.path, code: e.code, error: text },
        'manifest error',
      );
      this.#o.events?.event(node, 'Warning', 'ManifestError', text);
    }
    for (const file of kept) log.warn({ file }, 'file failed to load; keeping its last good objects');
    this.#reported = now;
  }
}

/** `file:line:col: path: message`. */
export function formatSourceError(e: SourceError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.path === '' ? '' : `${e.path}: `}${e.message}`;
}

interface FileRedactions {
  paths: Map<string, string[]>;
  plaintexts: string[];
}

/** What a file that loaded gives besides its objects (secrets in memory only). */
interface FileState {
  /** `ENC[...]` ciphertext of its env values → plaintext. */
  secrets: Map<string, SecretString>;
  /** SOPS files: the fields decrypted in place, for redaction. */
  redactions?: FileRedactions;
  /** SOPS files: the ciphertext last-good.json keeps. */
  sealed?: Omit<SealedFile, 'sources'>;
}

/** One revision as loaded, before it is applied. */
interface LoadedRevision {
  files: LoadedFile[];
  /** secrets.yaml as this revision has it (or the last good values when it fails). */
  root: RootSecrets;
  /** The text of the secrets.yaml `root` came from (undefined: none in use). */
  rootText: string | undefined;
  /** The state of each file that loaded without error. */
  states: Map<string, FileState>;
}

interface Redactions {
  paths: Map<string, string[]>;
  redactor: Redactor;
}

function mergeRedactions(files: readonly FileRedactions[]): Redactions {
  const paths = new Map<string, string[]>();
  const redactor = new Redactor();
  for (const f of files) {
    for (const [id, p] of f.paths) paths.set(id, [...(paths.get(id) ?? []), ...p]);
    redactor.add(...f.plaintexts);
  }
  return { paths, redactor };
}

/**
 * The saved state in a hashable form (maps as entries). Without its revision: a commit that
 * changes no object does not rewrite the file, which keeps the revision the objects came from.
 */
function savedForm(s: SavedLastGood): unknown {
  return { objects: [...s.objects], sealed: [...s.sealed], owners: s.owners ?? {}, secrets: s.secrets ?? '' };
}

/** The sha of `<branch>@sha1:<sha>` (the whole text when it has no `@sha1:`). */
function commitOf(revision: string): string {
  const at = revision.lastIndexOf('@sha1:');
  return at < 0 ? revision : revision.slice(at + '@sha1:'.length);
}

/** `Kind/name` → source annotation of each object that has one. */
function sourcesOf(objects: readonly ApiObject[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of objects) {
    const src = o.metadata.annotations?.[SOURCE_ANNOTATION];
    if (src !== undefined) out[`${o.kind}/${o.metadata.name}`] = src;
  }
  return out;
}

/** The object with its source annotation set back to `source` (when one was saved). */
function withSource(o: ApiObject, source: string | undefined): ApiObject {
  if (source === undefined) return o;
  return {
    ...o,
    metadata: { ...o.metadata, annotations: { ...o.metadata.annotations, [SOURCE_ANNOTATION]: source } },
  };
}

function toSourceError(e: ManifestError): SourceError {
  return { file: e.file, line: e.line, col: e.col, path: e.path, code: e.code, message: e.message };
}

/** The `code` of a typed error (OrunError, or the decryptor's per-file error), if it has one. */
function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

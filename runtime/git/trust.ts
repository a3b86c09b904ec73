/**
 * Which keys may sign the commits a node applies, and how that trust is set without letting the
 * repository lower it:
 *
 * - `orun start --allowed-signers FILE` is the root of trust: every commit is verified against
 *   FILE, and the Node manifest cannot change that (its `spec.verifyCommits` is ignored, with a
 *   warning when it differs: a commit can neither turn verification off nor add a signer).
 * - Without the flag, the Node manifest's `spec.verifyCommits.allowedSigners` turns it on. The
 *   signers in force are those of the Node at the last APPLIED commit, kept in
 *   `<dataDir>/state/allowed_signers` (0600, so it survives restarts): the next commit is verified
 *   against them, never against the signers it declares itself. So only a commit signed by a key
 *   already trusted can change the list or remove `verifyCommits` (turning verification off).
 * - The first commit applied with no trust on disk is trusted as it is (trust on first use, as SSH
 *   does with known_hosts). To pin trust before the first commit, use the flag.
 */
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { silentLogger, type Logger } from '../log/index.ts';
import type { CommitVerification } from './source.ts';

/** The part of a Node spec that sets commit verification. */
export interface NodeTrustSettings {
  verifyCommits?: { allowedSigners: readonly string[] } | undefined;
}

export interface CommitTrustOptions {
  /** `--allowed-signers`: when set, the only trust (the Node manifest cannot change it). */
  flagFile?: string;
  /** Where the Node's signers in force are kept, e.g. `<dataDir>/state/allowed_signers`. */
  stateFile: string;
  /** Default: silent. */
  logger?: Logger;
}

export class CommitTrust {
  readonly #o: CommitTrustOptions;
  readonly #log: Logger;
  /** The state file's content (undefined: no Node trust in force). */
  #signers: string | undefined;
  #warned = false;

  constructor(o: CommitTrustOptions) {
    this.#o = o;
    this.#log = (o.logger ?? silentLogger()).child({ component: 'commit-trust' });
    this.#signers = existsSync(o.stateFile) ? readFileSync(o.stateFile, 'utf8') : undefined;
  }

  /** How the next fetched commit is verified; undefined: not verified. */
  verify(): CommitVerification | undefined {
    if (this.#o.flagFile !== undefined) return { allowedSignersFile: this.#o.flagFile };
    return this.#signers === undefined ? undefined : { allowedSignersFile: this.#o.stateFile };
  }

  /** Where verification comes from, for logs and status: `flag`, `node` or `off`. */
  source(): 'flag' | 'node' | 'off' {
    if (this.#o.flagFile !== undefined) return 'flag';
    return this.#signers === undefined ? 'off' : 'node';
  }

  /**
   * Takes the signers of the Node at a commit that was just applied (so verified against the
   * trust in force, if any). Writes or removes the state file only when it changes.
   */
  adopt(node: NodeTrustSettings | undefined): void {
    const signers = node?.verifyCommits?.allowedSigners;
    if (this.#o.flagFile !== undefined) {
      if (signers !== undefined && !this.#warned) {
        this.#warned = true;
        this.#log.warn(
          { allowedSigners: this.#o.flagFile },
          'the Node manifest spec.verifyCommits is ignored: --allowed-signers is the trust for every commit',
        );
      }
      return;
    }
    const text = signers === undefined ? undefined : `${signers.join('\n')}\n`;
    if (text === this.#signers) return;
    if (text === undefined) {
      rmSync(this.#o.stateFile, { force: true });
      this.#log.warn('commit verification turned off by the Node manifest at a verified commit');
    } else {
      mkdirSync(dirname(this.#o.stateFile), { recursive: true, mode: 0o700 });
      const tmp = `${this.#o.stateFile}.tmp`;
      writeFileSync(tmp, text, { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, this.#o.stateFile);
      this.#log.info(
        { signers: signers?.length ?? 0, file: this.#o.stateFile },
        this.#signers === undefined
          ? 'commit verification turned on by the Node manifest'
          : 'allowed signers changed by the Node manifest at a verified commit',
      );
    }
    this.#signers = text;
  }
}

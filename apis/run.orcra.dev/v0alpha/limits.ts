/**
 * Size limits of a manifest repository, checked before anything is parsed so that one huge file
 * can neither freeze the agent nor push its memory up. Both are configurable on `orun start` and
 * `orun validate` (`--max-manifest-bytes`, `--max-repo-bytes`).
 */
export interface ManifestLimits {
  /** Largest manifest file read, in bytes. Default: 1 MiB (Kubernetes stores objects up to 1.5 MiB). */
  maxFileBytes: number;
  /** Largest total of all manifest files of one revision, in bytes. Default: 64 MiB. */
  maxRepoBytes: number;
}

export const DEFAULT_MANIFEST_LIMITS: Readonly<ManifestLimits> = Object.freeze({
  maxFileBytes: 1024 * 1024,
  maxRepoBytes: 64 * 1024 * 1024,
});

/** The UTF-8 length of `text` in bytes (what the file on disk holds), in one linear pass. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

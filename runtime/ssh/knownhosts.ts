/**
 * known_hosts with OpenSSH's `StrictHostKeyChecking accept-new` semantics: a host seen for the
 * first time has its key recorded; a known host must present one of its recorded keys, or the
 * connection is refused with the fingerprints side by side. Reads plain, wildcard, negated and
 * hashed (`|1|salt|hash`, Debian's default) entries; `@revoked` keys are refused; lines it does not
 * understand (`@cert-authority`, comments) are kept and ignored.
 */
import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** A host key as it travels in the SSH protocol: the wire blob, its type and fingerprint. */
export interface HostKey {
  /** e.g. `ssh-ed25519`. */
  type: string;
  /** The key blob (what known_hosts stores base64-encoded). */
  blob: Buffer;
}

/** `SHA256:<base64 without padding>`, as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside a wire blob (its first length-prefixed string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return n > 0 && 4 + n <= blob.length ? blob.subarray(4, 4 + n).toString('latin1') : 'unknown';
}

/** The name known_hosts uses for host:port: `host` on port 22, `[host]:port` otherwise. */
export function hostEntryName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

interface Entry {
  line: number;
  marker?: '@revoked' | '@cert-authority';
  patterns: string;
  type: string;
  blob: Buffer;
}

export type HostKeyVerdict =
  /** The key is recorded for this host. */
  | { kind: 'known' }
  /** The host is not in the file at all (accept-new records it). */
  | { kind: 'unknown' }
  /** The host is known with other keys: refuse. `known` lists what the file holds for it. */
  | { kind: 'changed'; known: { line: number; type: string; fingerprint: string }[] }
  /** The key is marked `@revoked`. */
  | { kind: 'revoked'; line: number };

/** Parsed known_hosts file. Construct with `KnownHosts.load(file)`. */
export class KnownHosts {
  readonly file: string;
  readonly #entries: Entry[];

  private constructor(file: string, entries: Entry[]) {
    this.file = file;
    this.#entries = entries;
  }

  /** Reads `file`; a missing file is an empty one. */
  static async load(file: string): Promise<KnownHosts> {
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return new KnownHosts(file, parse(text));
  }

  /** Key types recorded for the host, so the client can ask the server for one of them first. */
  knownTypes(host: string, port: number): string[] {
    return [...new Set(this.#matching(host, port).map((e) => e.type))];
  }

  verify(host: string, port: number, key: HostKey): HostKeyVerdict {
    const entries = this.#matching(host, port);
    const revoked = this.#entries.find((e) => e.marker === '@revoked' && e.blob.equals(key.blob));
    if (revoked) return { kind: 'revoked', line: revoked.line };
    const plain = entries.filter((e) => e.marker === undefined);
    if (plain.some((e) => e.blob.equals(key.blob))) return { kind: 'known' };
    if (plain.length === 0) return { kind: 'unknown' };
    return {
      kind: 'changed',
      known: plain.map((e) => ({ line: e.line, type: e.type, fingerprint: fingerprint(e.blob) })),
    };
  }

  /** Appends `host key` (creating the file and its directory, mode 0600/0700) and remembers it. */
  async add(host: string, port: number, key: HostKey): Promise<void> {
    const patterns = hostEntryName(host, port);
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    let prefix = '';
    try {
      const text = await readFile(this.file, 'utf8');
      if (text.length > 0 && !text.endsWith('\n')) prefix = '\n';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await appendFile(this.file, `${prefix}${patterns} ${key.type} ${key.blob.toString('base64')}\n`, {
      mode: 0o600,
    });
    this.#entries.push({ line: this.#entries.length + 1, patterns, type: key.type, blob: key.blob });
  }

  #matching(host: string, port: number): Entry[] {
    return this.#entries.filter(
      (e) => e.marker !== '@cert-authority' && matchesPatterns(e.patterns, host, port),
    );
  }
}

function parse(text: string): Entry[] {
  const out: Entry[] = [];
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    const first = fields[0] ?? '';
    if (first === '' || first.startsWith('#')) return;
    let marker: Entry['marker'];
    if (first === '@revoked' || first === '@cert-authority') marker = fields.shift() as Entry['marker'];
    else if (first.startsWith('@')) return;
    const [patterns, type, b64] = fields;
    if (!patterns || !type || !b64) return;
    const blob = Buffer.from(b64, 'base64');
    if (blob.length === 0) return;
    out.push({ line: i + 1, marker, patterns, type, blob });
  });
  return out;
}

/** OpenSSH's host matching: comma-separated patterns, `*`/`?` wildcards, `!` negation, hashes. */
export function matchesPatterns(patterns: string, host: string, port: number): boolean {
  const names = port === 22 ? [host] : [`[${host}]:${port}`];
  if (patterns.startsWith('|1|')) return names.some((n) => hashedMatches(patterns, n));
  let matched = false;
  for (const p of patterns.split(',')) {
    const negated = p.startsWith('!');
    const pattern = negated ? p.slice(1) : p;
    if (names.some((n) => wildcard(pattern.toLowerCase(), n.toLowerCase()))) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function hashedMatches(entry: string, name: string): boolean {
  const [, , salt, hash] = entry.split('|');
  if (!salt || !hash) return false;
  const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return mac === hash;
}

function wildcard(pattern: string, s: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${re}$`).test(s);
}

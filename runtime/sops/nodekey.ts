/**
 * The node-local key that secret values are HMACed under inside spec hashes (container labels).
 * It lives in `<dataDir>/keys/secret-hash.key` (0600), created on first use, so the hash of an
 * unchanged secret is stable across restarts (nothing healthy restarts) while a label read off
 * another machine, or a guess of the value, cannot be checked without the node's key.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OrunError } from '../../apis/errors.ts';

/** `<dataDir>/keys/secret-hash.key`. */
export function nodeSecretKeyPath(dataDir: string): string {
  return join(dataDir, 'keys', 'secret-hash.key');
}

/**
 * Reads the node's HMAC key, creating it (32 random bytes, hex, mode 0600) when missing.
 * Synchronous: it runs once while the agent is wired, before anything is reconciled.
 */
export function loadNodeSecretKey(dataDir: string): string {
  const path = nodeSecretKeyPath(dataDir);
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(text)) return text;
    throw new OrunError('NodeSecretKeyMalformed', `node secret key ${path}: expected 64 hex characters`, {
      context: { path },
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32).toString('hex');
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadNodeSecretKey(dataDir);
    throw err;
  }
  return key;
}

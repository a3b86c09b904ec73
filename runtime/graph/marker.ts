/**
 * ONESHOT ready markers (the spec's "creates ready marker file on success"): one file per
 * service, `<readyDir>/<service>.json` = `{hash, completedAt}`, written when the ONESHOT exits 0.
 * A later start whose definition hash is the same skips the run and counts as completed, so a
 * migration runs once: across `orch up`s, orun restarts (SIGTERM or SIGKILL) and changes to other
 * services. A changed definition, `orch up --force` or `orunctl reconcile` runs it again.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OrchService } from '../../apis/orchfile/index.ts';

export interface ReadyMarker {
  /** {@link serviceHash} of the definition that completed. */
  readonly hash: string;
  /** Epoch ms. */
  readonly completedAt: number;
}

/**
 * Hash of everything that shapes a service: its merged, ARG-expanded spec and the built-in
 * variable values. The ServiceGraph controller's per-service config hash is this too.
 */
export function serviceHash(service: OrchService, vars: Readonly<Record<string, string>>): string {
  return createHash('sha256').update(JSON.stringify({ service, vars })).digest('hex').slice(0, 16);
}

function markerFile(dir: string, service: string): string {
  return join(dir, `${service}.json`);
}

/** Undefined when there is none or it is unreadable (then the ONESHOT runs). */
export function readMarker(dir: string, service: string): ReadyMarker | undefined {
  try {
    const m = JSON.parse(readFileSync(markerFile(dir, service), 'utf8')) as ReadyMarker;
    return typeof m.hash === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Atomic (temporary file renamed), so a crash never leaves half a marker. */
export function writeMarker(dir: string, service: string, marker: ReadyMarker): void {
  const file = markerFile(dir, service);
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(marker) + '\n');
  renameSync(`${file}.tmp`, file);
}

export function removeMarker(dir: string, service: string): void {
  rmSync(markerFile(dir, service), { force: true });
}

/**
 * What `orun diff [REPO_DIR] [--ref BRANCH|COMMIT]` does (its flags are in cmd/orun/diff.ts): asks the running agent (over its socket) what
 * applying a manifest tree would change on its node, like `kubectl diff` / `flux diff`.
 * Exit 0: nothing would change; 1: something would; 2: an error (manifest errors in the tree,
 * no agent, a ref that does not resolve). Secrets print as changed/unchanged, never values.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage, OrunError } from '../../apis/errors.ts';
import { ApiClient, resolveSocketPath } from '../api/client.ts';
import type { DiffResult, FieldChange, ObjectChange } from '../api/diff.ts';
import { formatSourceError } from '../informer/index.ts';

const run = promisify(execFile);

export const DIFF_EXIT = { none: 0, changes: 1, error: 2 } as const;

export async function diff(
  dir: string,
  opts: { ref?: string; socket?: string },
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  let tmp: string | undefined;
  try {
    let tree = dir;
    let label = dir;
    if (opts.ref !== undefined) {
      tmp = await mkdtemp(join(tmpdir(), 'orun-diff-'));
      tree = await exportRef(dir, opts.ref, tmp);
      label = `${opts.ref} of ${dir}`;
    }
    const client = new ApiClient({ socketPath: resolveSocketPath(opts.socket) });
    const result = await client.diff({ dir: tree, label });
    out.write(formatDiff(result));
    if (result.errors.length > 0) {
      for (const e of result.errors) err.write(`${formatSourceError(e)}\n`);
      err.write(`orun diff: ${result.errors.length} manifest error(s); fix them first (orun validate)\n`);
      return DIFF_EXIT.error;
    }
    return result.changes.length === 0 ? DIFF_EXIT.none : DIFF_EXIT.changes;
  } catch (e) {
    err.write(`orun diff: ${errorMessage(e)}\n`);
    return DIFF_EXIT.error;
  } finally {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  }
}

/** `git archive REF` of `dir`, unpacked under `tmp`; returns the tree's dir. */
async function exportRef(dir: string, ref: string, tmp: string): Promise<string> {
  const tree = join(tmp, 'tree');
  await mkdir(tree);
  const tar = join(tmp, 'tree.tar');
  try {
    await run('git', ['-C', dir, 'archive', '--format=tar', '-o', tar, `${ref}^{commit}`, '--']);
    await run('tar', ['-xf', tar, '-C', tree]);
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new OrunError(
      'diff.bad_ref',
      `--ref ${ref}: ${stderr !== undefined && stderr !== '' ? stderr : errorMessage(e)}`,
      {
        cause: e,
      },
    );
  }
  return tree;
}

/** The human form: one line per object (`kind/name  action`), then its fields indented. */
export function formatDiff(r: DiffResult): string {
  if (r.errors.length > 0) return '';
  const lines: string[] = [];
  if (r.changes.length === 0) return 'No changes.\n';
  const width = Math.max(...r.changes.map((c) => name(c).length)) + 3;
  for (const c of r.changes) {
    lines.push(
      `${name(c).padEnd(width)}${headline(c)}${c.suspended === true ? ' (suspended: waits for orunctl resume)' : ''}`,
    );
    for (const f of c.fields ?? []) lines.push(`    ${field(f)}`);
  }
  lines.push(
    `${r.changes.length} change${r.changes.length === 1 ? '' : 's'} against ${r.currentRevision ?? 'the running state'}`,
  );
  return lines.join('\n') + '\n';
}

function name(c: ObjectChange): string {
  return `${c.kind.toLowerCase()}/${c.name}`;
}

function headline(c: ObjectChange): string {
  if (c.action !== 'restarted' || c.services === undefined) return c.action;
  const parts = [];
  if (c.services.restarted.length > 0) parts.push(`restarts ${c.services.restarted.join(', ')}`);
  if (c.services.stopped.length > 0) parts.push(`stops ${c.services.stopped.join(', ')}`);
  return parts.join('; ');
}

function field(f: FieldChange): string {
  if ('secret' in f) return `${f.path}: secret ${f.secret}`;
  const show = (v: unknown): string => (v === undefined ? '<none>' : JSON.stringify(v));
  return `${f.path}: ${show(f.from)} → ${show(f.to)}`;
}

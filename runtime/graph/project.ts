/**
 * An orch project on disk: the Orchfiles (base first), the graph they mean, the project name and
 * the state directory where `orch up` records what it started so `status` and `down` find it.
 */
import { basename, dirname, join, resolve } from 'node:path';
import type { OrchGraph } from '../../apis/orchfile/index.ts';
import { cleanProjectName } from '../../apis/orchfile/render/index.ts';

export interface ProjectLocation {
  /** Absolute directory of the first Orchfile: ORCH_PROJECT. */
  readonly dir: string;
  /** `--project-name`, else `$ORCH_PROJECT_NAME`, else the directory's name (lowercased, [a-z0-9_-] only). */
  readonly name: string;
  /** `$ORCH_STATE_DIR`, else `<dir>/.orch/state` (the default `orch render` uses too). */
  readonly stateDir: string;
}

export function locateProject(
  firstFile: string,
  opts: { cwd: string; env: Readonly<Record<string, string | undefined>>; projectName?: string },
): ProjectLocation {
  const dir = dirname(resolve(opts.cwd, firstFile));
  const raw = opts.projectName ?? opts.env.ORCH_PROJECT_NAME ?? basename(dir);
  const name = cleanProjectName(raw);
  const stateDir =
    opts.env.ORCH_STATE_DIR !== undefined
      ? resolve(opts.cwd, opts.env.ORCH_STATE_DIR)
      : join(dir, '.orch', 'state');
  return { dir, name, stateDir };
}

/** `<stateDir>/<project>.json`: the project's run state (runstate.ts). */
export function stateFile(loc: ProjectLocation): string {
  return join(loc.stateDir, `${loc.name}.json`);
}

/**
 * Services in an order where each comes after everything it REQUIRES or is AFTER (file order
 * among independent ones). Reverse it to stop.
 */
export function startOrder(graph: OrchGraph): string[] {
  const byName = new Map(graph.services.map((s) => [s.name, s]));
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const s = byName.get(name);
    if (s === undefined) return;
    for (const d of [...s.requires, ...s.after]) visit(d);
    out.push(name);
  };
  for (const s of graph.services) visit(s.name);
  return out;
}

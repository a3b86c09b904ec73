/**
 * Which CLI the single executable runs: the name it was started as (`orunctl` and `orch` are
 * links to `orun`), else a first argument naming one (`orun orunctl get all`), else orun.
 */
import { basename } from 'node:path';

export const TOOLS = ['orun', 'orunctl', 'orch'] as const;
export type Tool = (typeof TOOLS)[number];

function asTool(name: string | undefined): Tool | undefined {
  return TOOLS.find((t) => t === name);
}

/** `argv0` is `process.argv0` (the name as typed or linked); `args` the arguments after it. */
export function pickTool(argv0: string, args: readonly string[]): { tool: Tool; args: string[] } {
  const linked = asTool(basename(argv0).replace(/\.exe$/, ''));
  if (linked !== undefined && linked !== 'orun') return { tool: linked, args: [...args] };
  const sub = asTool(args[0]);
  if (sub !== undefined && sub !== 'orun') return { tool: sub, args: args.slice(1) };
  return { tool: 'orun', args: [...args] };
}

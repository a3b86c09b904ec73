/**
 * `orun diff [REPO_DIR] [--ref BRANCH|COMMIT]`: what applying a manifest tree would change on the
 * agent's node (runtime/cli/diff.ts). Exit 0: nothing would change; 1: something would; 2: an error.
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { diff } from '../../runtime/cli/diff.ts';

export function diffCommand(): Command {
  return new Command('diff')
    .description(
      "show what applying a manifest tree would change on the agent's node: exit 0 nothing, 1 changes, 2 errors",
    )
    .argument('[REPO_DIR]', 'the manifest repository work tree', '.')
    .option(
      '--ref <branch|commit>',
      'diff this branch or commit of REPO_DIR (a Git repository) instead of its work tree',
    )
    .option('--socket <path>', "the agent's API socket (default: $ORUN_SOCKET, else /opt/orun/orun.sock)")
    .action(async (dir: string, opts: { ref?: string; socket?: string }) => {
      process.exitCode = await diff(resolve(dir), opts, process.stdout, process.stderr);
    });
}

import { Command } from 'commander';
import { notImplemented } from './notimplemented.ts';

/** `orun start`: run the agent on this node (filled in by issue 4). */
export function startCommand(): Command {
  return new Command('start')
    .description('run the agent on this node: poll the manifest repository and reconcile containers')
    .action(notImplemented('start', 4));
}

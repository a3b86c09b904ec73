import { Command } from 'commander';
import { notImplemented } from './notimplemented.ts';

/** `orun bootstrap`: provision a node over SSH (filled in by a later issue). */
export function bootstrapCommand(): Command {
  return new Command('bootstrap')
    .description(
      'provision a node over SSH: install orun, write its Node manifest and start the systemd unit',
    )
    .action(notImplemented('bootstrap', 4));
}

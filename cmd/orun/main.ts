// orun: the GitOps node agent. Each command lives in its own file; this one only wires them up.
import { Command } from 'commander';
import { errorMessage } from '../../apis/errors.ts';
import { bootstrapCommand } from './bootstrap.ts';
import { schemaCommand } from './schema.ts';
import { startCommand } from './start.ts';
import { validateCommand } from './validate.ts';

const program = new Command('orun')
  .description('GitOps node agent: pulls run.orcra.dev/v0alpha manifests from Git and runs them with Docker')
  .version(process.env.ORUN_VERSION ?? '0.1.0')
  .addCommand(startCommand())
  .addCommand(bootstrapCommand())
  .addCommand(validateCommand())
  .addCommand(schemaCommand())
  .showHelpAfterError();

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`orun: ${errorMessage(err)}\n`);
  process.exitCode = 1;
}

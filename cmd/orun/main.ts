// orun: the GitOps node agent. Each command lives in its own file; this one only wires them up.
// Exit codes: 0 ok, 1 error, 2 usage error (as orch and orunctl).
import { Command, CommanderError } from 'commander';
import { errorMessage } from '../../apis/errors.ts';
import { journalStream } from '../../runtime/log/index.ts';
import { VERSION } from '../../runtime/version/index.ts';
import { bootstrapCommand } from './bootstrap.ts';
import { diffCommand } from './diff.ts';
import { schemaCommand } from './schema.ts';
import { startCommand } from './start.ts';
import { secretsCommand } from './secrets.ts';
import { validateCommand } from './validate.ts';

const program = new Command('orun')
  .description('GitOps node agent: pulls run.orcra.dev/v0alpha manifests from Git and runs them with Docker')
  .version(VERSION)
  .showHelpAfterError()
  .exitOverride();
for (const cmd of [
  startCommand(),
  bootstrapCommand(),
  validateCommand(),
  diffCommand(),
  secretsCommand(),
  schemaCommand(),
]) {
  program.addCommand(cmd.exitOverride());
}

// No top-level await: the single executable (cmd/sea) loads this module as CommonJS.
async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander printed its message already; help and --version end here too, with code 0.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
    } else {
      // `<3>`: journald files a fatal error at priority err (see runtime/log journalStream).
      process.stderr.write(`${journalStream(process.env, 2) ? '<3>' : ''}orun: ${errorMessage(err)}\n`);
      process.exitCode = 1;
    }
  }
}
void main();

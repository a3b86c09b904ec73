// The single executable's entry (`npm run dist` → dist/orun-linux-<arch>): one file holding
// orun, orunctl and orch. It picks the CLI (dispatch.ts), gives it the argv it expects
// ([node, script, ...args]) and loads only that CLI's module.
import { pickTool } from './dispatch.ts';

const { tool, args } = pickTool(process.argv0, process.argv.slice(2));
process.argv = [process.execPath, tool, ...args];
const loaded =
  tool === 'orunctl'
    ? import('../orunctl/main.ts')
    : tool === 'orch'
      ? import('../orch/main.ts')
      : import('../orun/main.ts');
loaded.catch((err: unknown) => {
  process.stderr.write(`${tool}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

/**
 * The local files `orun bootstrap` installs on a node: the single-file bundles (dist/orun.js,
 * dist/orunctl.js), the systemd unit (config/systemd/orun.service, the one file both the repo
 * and every node use) and this machine's Node.js binary. Found relative to the running code, so
 * it works from the bundle (`dist/orun.js`) and from source (`runtime/provision/*.ts`).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OrunError } from '../../apis/errors.ts';
import { BootstrapErrorCode } from './request.ts';

export interface BootstrapAssets {
  orunJs: string;
  orunctlJs: string;
  unit: string;
  /** This machine's Node.js binary, uploaded when the node has no Node.js ≥ 22. */
  nodeBinary: string;
  /** Its platform and `process.arch` (e.g. linux, x64). */
  nodePlatform: string;
  nodeArch: string;
}

/** Looks upward from `from` (default: this module) for `dist/orun.js` beside `config/systemd/`. */
export function findAssets(from: string = dirname(fileURLToPath(import.meta.url))): BootstrapAssets {
  let dir = resolve(from);
  for (let i = 0; i < 4; i++) {
    const assets = {
      orunJs: join(dir, 'dist', 'orun.js'),
      orunctlJs: join(dir, 'dist', 'orunctl.js'),
      unit: join(dir, 'config', 'systemd', 'orun.service'),
    };
    if (Object.values(assets).every((p) => existsSync(p)))
      return {
        ...assets,
        nodeBinary: process.execPath,
        nodePlatform: process.platform,
        nodeArch: process.arch,
      };
    dir = dirname(dir);
  }
  throw new OrunError(
    BootstrapErrorCode.AssetsMissing,
    `bootstrap: find install files: no dist/orun.js, dist/orunctl.js and config/systemd/orun.service ` +
      `above ${from} (run \`npm run build\` in the orun checkout)`,
  );
}

/**
 * The local files `orun bootstrap` installs on a node: the single executable for the node's
 * architecture (`npm run dist` → dist/orun-linux-<arch>; when bootstrap itself runs as the single
 * executable, that very file) and the systemd unit (config/systemd/orun.service, the one file the
 * repo and every node use; inside the single executable it is an embedded asset).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as sea from 'node:sea';
import { fileURLToPath } from 'node:url';
import { OrunError } from '../../apis/errors.ts';
import { VERSION } from '../version/index.ts';
import { BootstrapErrorCode } from './request.ts';

export interface BootstrapAssets {
  /** The systemd unit's text. */
  unit: string;
  /**
   * The single executable for a node's `process.arch`-style architecture (x64, arm64), with its
   * version; undefined when none was built for it.
   */
  executable(arch: string): { path: string; version: string } | undefined;
}

const UNIT = join('config', 'systemd', 'orun.service');

/**
 * Running as the single executable: itself (and siblings `orun-linux-<arch>` beside it) and the
 * embedded unit. Otherwise: looks upward from `from` (default: this module) for the checkout's
 * config/systemd/orun.service and dist/orun-linux-<arch>.
 */
export function findAssets(from: string = dirname(fileURLToPath(import.meta.url))): BootstrapAssets {
  if (sea.isSea()) {
    const dir = dirname(process.execPath);
    return {
      unit: sea.getAsset('orun.service', 'utf8'),
      executable: (arch) =>
        arch === process.arch
          ? { path: process.execPath, version: VERSION }
          : versioned(join(dir, `orun-linux-${arch}`)),
    };
  }
  let dir = resolve(from);
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, UNIT))) {
      const root = dir;
      return {
        unit: readFileSync(join(root, UNIT), 'utf8'),
        executable: (arch) => versioned(join(root, 'dist', `orun-linux-${arch}`)),
      };
    }
    dir = dirname(dir);
  }
  throw new OrunError(
    BootstrapErrorCode.AssetsMissing,
    `bootstrap: find install files: no ${UNIT} above ${from} (run orun bootstrap from the orun checkout, ` +
      `or as the single executable)`,
  );
}

/**
 * The executable at `path` with the version it reports when it runs here; one built for another
 * architecture cannot, so its `<path>.version` (written by `npm run dist`) says it.
 */
function versioned(path: string): { path: string; version: string } | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return { path, version: execFileSync(path, ['--version'], { encoding: 'utf8' }).trim() };
  } catch {
    const sidecar = `${path}.version`;
    const version = existsSync(sidecar) ? readFileSync(sidecar, 'utf8').trim() : '';
    return { path, version: version || 'unknown' };
  }
}

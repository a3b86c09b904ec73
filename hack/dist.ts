// `npm run dist`: the single executable dist/orun-linux-<arch>, a Node.js single executable
// application (SEA) holding orun, orunctl and orch (cmd/sea picks one by argv[0] or first
// argument). Steps: bundle cmd/sea/main.ts as CommonJS (Node 24's SEA runs a CommonJS main),
// make the SEA blob with V8's code cache, copy this Node.js binary, strip its debug symbols
// and inject the blob with postject. Needs Node 24 (npm scripts run the pinned one).
//
// Options (environment): ORUN_BUILD_VERSION overrides the version baked in (default:
// package.json's version plus `git describe`); ORUN_DIST_DIR the output directory (default dist).
// Only the architecture of the Node.js running this script is built: a blob with a code cache
// is specific to the V8 build and platform that made it.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { lazySessionInDockerode, lazySsh2InDockerModem } from './esbuild-plugins.ts';
import { buildVersion } from './version.ts';

const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const root = resolve(import.meta.dirname, '..');
const outDir = resolve(root, process.env.ORUN_DIST_DIR ?? 'dist');
const work = join(outDir, 'sea');
const arch = process.arch;
const target = join(outDir, `orun-${process.platform}-${arch}`);

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `dist: needs Node.js 24 (npm run dist uses the pinned one); this is ${process.version}\n`,
  );
  process.exit(1);
}

const version = buildVersion(root);
mkdirSync(work, { recursive: true });
const main = join(work, 'orun.cjs');
await build({
  entryPoints: [join(root, 'cmd/sea/main.ts')],
  outfile: main,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  minify: true,
  keepNames: true,
  legalComments: 'none',
  charset: 'ascii',
  plugins: [lazySsh2InDockerModem, lazySessionInDockerode],
  // cpu-features and ssh2's crypto binding are optional native addons; ssh2 works without them.
  external: ['cpu-features', '*.node'],
  define: {
    __ORUN_VERSION__: JSON.stringify(version),
    // CommonJS has no import.meta; the executable's own path stands in for the module URL.
    'import.meta.url': '__orunModuleUrl',
    'import.meta.dirname': '__dirname',
  },
  banner: { js: "var __orunModuleUrl=require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});

const blob = join(work, 'orun.blob');
const seaConfig = join(work, 'sea-config.json');
writeFileSync(
  seaConfig,
  JSON.stringify({
    main,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: process.env.ORUN_SEA_CODE_CACHE !== '0',
    assets: { 'orun.service': join(root, 'config/systemd/orun.service') },
  }),
);
execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], {
  stdio: ['ignore', 'ignore', 'inherit'],
});

rmSync(target, { force: true });
copyFileSync(process.execPath, target);
chmodSync(target, 0o755);
try {
  // Node's release binaries carry debug info and a symbol table; the node needs neither (~15% of the size).
  execFileSync('strip', ['--strip-all', target], { stdio: ['ignore', 'ignore', 'inherit'] });
} catch (err) {
  process.stderr.write(`dist: strip failed (${(err as Error).message}); keeping the debug symbols\n`);
}
const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
execFileSync(process.execPath, [postject, target, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SENTINEL_FUSE], {
  // postject warns about ELF notes it does not know; only its failure matters.
  stdio: ['ignore', 'ignore', 'pipe'],
});
const size = statSync(target).size;
process.stdout.write(`dist: ${target} (${version}, ${(size / 2 ** 20).toFixed(1)} MiB)\n`);

// `npm run dist`: the single executable dist/orun-linux-<arch>, a Node.js single executable
// application (SEA) holding orun, orunctl and orch (cmd/sea picks one by argv[0] or first
// argument). Steps: bundle cmd/sea/main.ts as CommonJS (Node 24's SEA runs a CommonJS main),
// make the SEA blob, copy a Node.js binary of the target architecture, strip its debug symbols
// and inject the blob with postject. Needs Node 24 (npm scripts run the pinned one).
//
// Options (environment): ORUN_BUILD_VERSION overrides the version baked in (default:
// package.json's version plus `git describe`); ORUN_DIST_DIR the output directory (default dist);
// ORUN_DIST_ARCH the architectures, comma-separated (x64, arm64; default: this machine's).
//
// This machine's architecture is built from the running Node.js, with V8's code cache in the blob
// (ORUN_SEA_CODE_CACHE=0: without). Another architecture is built from the same Node.js version
// published on npm as `node-linux-<arch>` (fetched once with `npm pack`, kept in ORUN_NODE_CACHE,
// default ~/.cache/orun/node), with a blob without code cache: a code cache is specific to the V8
// build and platform that made it, and Node refuses it elsewhere. It is stripped with
// `<triplet>-strip` (Debian's binutils-aarch64-linux-gnu) when present. Beside each executable,
// `orun-linux-<arch>.version` holds its version, for `orun bootstrap` on a machine that cannot run it.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import {
  CHUNKS,
  lazyChildProcessInCommander,
  lazyChunks,
  lazyDebugInDockerModem,
  lazySessionInDockerode,
  lazySsh2InDockerModem,
} from './esbuild-plugins.ts';
import { buildVersion } from './version.ts';

const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/**
 * Node.js flags the executable starts with (the SEA config's `execArgv`; NODE_OPTIONS still adds
 * to them). V8 flags must be set before the isolate exists, so they cannot come from the program.
 * The blob is made by a Node.js started with the same flags: V8 rejects a code cache made under
 * other flags (Node.js then warns and parses everything). ORUN_SEA_EXEC_ARGV (space-separated)
 * replaces them, for benches.
 *
 * `--max-opt=1`: V8 stops at its baseline compiler (Sparkplug), with inline caches; Maglev and
 * TurboFan never run. The agent idles for months and its work waits on Docker and git: their
 * compile zones and code were 10–16 MiB of its idle RSS with 50 Deployments (BENCHMARKS.md,
 * agent-idle), and converging 50 took the same CPU without them. Long computations cost more:
 * `orun validate` of 500 Deployment files no slower (0.54 s CPU, median of 6, against 0.61), of
 * 3,000 files 1.46× (2.35 s against 1.61; `--lite-mode` 2.0×, without inline caches).
 */
const EXEC_ARGV: readonly string[] =
  process.env.ORUN_SEA_EXEC_ARGV === undefined
    ? ['--max-opt=1']
    : process.env.ORUN_SEA_EXEC_ARGV.split(' ').filter((a) => a !== '');
const root = resolve(import.meta.dirname, '..');
const outDir = resolve(root, process.env.ORUN_DIST_DIR ?? 'dist');
const work = join(outDir, 'sea');
/** Each architecture's strip when it is not this machine's (GNU triplets, as Debian names them). */
const STRIP: Readonly<Record<string, string>> = {
  x64: 'x86_64-linux-gnu-strip',
  arm64: 'aarch64-linux-gnu-strip',
};
const arches = (process.env.ORUN_DIST_ARCH ?? process.arch)
  .split(',')
  .map((a) => a.trim())
  .filter((a) => a !== '');
const unknown = arches.filter((a) => STRIP[a] === undefined);
if (process.platform !== 'linux' || unknown.length > 0 || arches.length === 0) {
  process.stderr.write(
    `dist: builds linux x64 and arm64 (ORUN_DIST_ARCH=x64,arm64); not ${process.platform} ${unknown.join(',') || '(none)'}\n`,
  );
  process.exit(1);
}

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
/** What every bundle of the executable shares: CommonJS (a SEA's main and an eval'd worker are scripts), minified. */
const common = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  minify: true,
  keepNames: true,
  legalComments: 'none',
  charset: 'ascii',
  logLevel: 'warning',
} as const;
await build({
  ...common,
  entryPoints: [join(root, 'cmd/sea/main.ts')],
  outfile: main,
  plugins: [
    lazyChunks,
    lazySsh2InDockerModem,
    lazySessionInDockerode,
    lazyDebugInDockerModem,
    lazyChildProcessInCommander,
  ],
  // cpu-features and ssh2's crypto binding are optional native addons; ssh2 works without them.
  external: ['cpu-features', '*.node'],
  define: {
    __ORUN_VERSION__: JSON.stringify(version),
    // CommonJS has no import.meta; the executable's own path stands in for the module URL.
    'import.meta.url': '__orunModuleUrl',
    'import.meta.dirname': '__dirname',
  },
  banner: {
    js: [
      "var __orunModuleUrl=require('node:url').pathToFileURL(__filename).href;",
      // hack/esbuild-plugins.ts CHUNKS: assets of the executable, compiled on their first require.
      'var __orunChunk=function(f){var c=__orunChunk.c||(__orunChunk.c={});if(c[f])return c[f].exports;',
      'var m=c[f]={exports:{}};',
      "require('node:vm').compileFunction(require('node:sea').getAsset(f,'utf8'),",
      "['exports','require','module','__filename','__dirname'],{filename:f})",
      '.call(m.exports,m.exports,require,m,__filename,__dirname);return m.exports};',
    ].join(''),
  },
});

// The decode worker's code (runtime/manifests/decoder.ts), an asset of the executable: a worker
// thread of a SEA runs it from its text (`new Worker(code, { eval: true })`).
const decodeWorker = join(work, 'decode-worker.cjs');
await build({
  ...common,
  entryPoints: [join(root, 'runtime/manifests/decode-worker.ts')],
  outfile: decodeWorker,
});

// The packages the main script does not carry, each an asset (hack/esbuild-plugins.ts CHUNKS).
const resolvePackage = createRequire(import.meta.url);
const chunks = await Promise.all(
  CHUNKS.map(async (c) => {
    const outfile = join(work, `${c.name}.cjs`);
    await build({
      ...common,
      entryPoints: [resolvePackage.resolve(c.entry)],
      outfile,
      external: ['cpu-features', '*.node'],
    });
    return [`${c.name}.cjs`, outfile] as const;
  }),
);

/** The SEA blob, with V8's code cache (only for this machine's architecture) or without. */
function makeBlob(codeCache: boolean): string {
  const blob = join(work, codeCache ? 'orun.blob' : 'orun-portable.blob');
  const seaConfig = join(work, codeCache ? 'sea-config.json' : 'sea-config-portable.json');
  writeFileSync(
    seaConfig,
    JSON.stringify({
      main,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: codeCache,
      useSnapshot: false,
      execArgv: EXEC_ARGV,
      assets: {
        'orun.service': join(root, 'config/systemd/orun.service'),
        'decode-worker.cjs': decodeWorker,
        ...Object.fromEntries(chunks),
      },
    }),
  );
  execFileSync(process.execPath, [...EXEC_ARGV, '--experimental-sea-config', seaConfig], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return blob;
}

/** Node.js of this version for `arch` from npm (`node-linux-<arch>`, the package the `node` devDependency installs). */
function foreignNode(arch: string): string {
  const cache = resolve(process.env.ORUN_NODE_CACHE ?? join(homedir(), '.cache', 'orun', 'node'));
  const bin = join(cache, `node-linux-${arch}-${process.versions.node}`);
  if (existsSync(bin)) return bin;
  mkdirSync(cache, { recursive: true });
  const tmp = mkdtempSync(join(cache, 'fetch-'));
  try {
    const spec = `node-linux-${arch}@${process.versions.node}`;
    process.stderr.write(`dist: fetching ${spec} from npm (once; kept in ${cache})\n`);
    const tgz = execFileSync('npm', ['pack', spec, '--pack-destination', tmp, '--silent'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    execFileSync('tar', ['-xzf', join(tmp, tgz.split('\n').pop() ?? ''), '-C', tmp, 'package/bin/node']);
    renameSync(join(tmp, 'package', 'bin', 'node'), bin);
    return bin;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
const blobs = new Map<boolean, string>();
for (const arch of arches) {
  const native = arch === process.arch;
  const codeCache = native && process.env.ORUN_SEA_CODE_CACHE !== '0';
  const blob = blobs.get(codeCache) ?? makeBlob(codeCache);
  blobs.set(codeCache, blob);
  const target = join(outDir, `orun-${process.platform}-${arch}`);
  rmSync(target, { force: true });
  copyFileSync(native ? process.execPath : foreignNode(arch), target);
  chmodSync(target, 0o755);
  const strip = native ? 'strip' : (STRIP[arch] ?? 'strip');
  try {
    // Node's release binaries carry debug info and a symbol table; the node needs neither (~15% of the size).
    execFileSync(strip, ['--strip-all', target], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    process.stderr.write(
      `dist: ${strip} failed (${(err as Error).message.split('\n')[0]}); keeping the debug symbols\n`,
    );
  }
  execFileSync(
    process.execPath,
    [postject, target, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SENTINEL_FUSE],
    // postject warns about ELF notes it does not know; only its failure matters.
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  writeFileSync(`${target}.version`, `${version}\n`);
  const size = statSync(target).size;
  process.stdout.write(
    `dist: ${target} (${version}, ${(size / 2 ** 20).toFixed(1)} MiB${codeCache ? '' : ', no code cache'})\n`,
  );
}

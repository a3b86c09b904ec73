// Bundles each CLI in cmd/ for dist/, so a CLI starts without resolving hundreds of modules. Run
// with `npm run build`. Each CLI is one CommonJS file (dist/<cli>.cjs) behind a small entry
// (dist/<cli>.js) that turns on V8's compile cache first; orch's up/down/status/logs/restart are a
// second bundle (dist/orch-run.cjs, from cmd/orch/run.ts) that parse, validate and render never load,
// and orunctl's commander program is one (dist/orunctl-full.cjs) that a plain `get` never loads:
// CommonJS loads builtins without their ESM facades, and from the second start on the cache spares
// parsing the bundle (orunctl --help 47 → 36 ms of CPU against 22 ms for `node -e ''`; the idle agent
// 8 MiB less RSS: no parser zones for 3 MiB of source). Nodes run the single executable
// (hack/dist.ts, its own code cache built in), not these files.
import { build, type Plugin } from 'esbuild';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import {
  CHUNKS,
  lazyChildProcessInCommander,
  lazyChunks,
  lazyDebugInDockerModem,
  lazySessionInDockerode,
  lazySsh2InDockerModem,
} from './esbuild-plugins.ts';
import { buildVersion } from './version.ts';

const clis = ['orun', 'orunctl', 'orch'] as const;

/**
 * Bundles loaded on demand, each from its own file: `import(spec)` in `importer` loads
 * dist/<name>.cjs, bundled from `entry`. orch's up/down/status/logs/restart (parse, validate and
 * render never load them), and its commander program (a plain validate/parse takes quick.ts);
 * orunctl's commander program (a plain `get` takes quick.ts instead).
 */
const lazyBundles = [
  { name: 'orch-run', entry: 'cmd/orch/run.ts', importer: join('cmd', 'orch', 'main.ts'), spec: './run.ts' },
  {
    name: 'orch-cli',
    entry: 'runtime/cli/orch/cli.ts',
    importer: join('cmd', 'orch', 'main.ts'),
    spec: '../../runtime/cli/orch/cli.ts',
  },
  {
    name: 'orunctl-full',
    entry: 'runtime/cli/orunctl/program.ts',
    importer: join('cmd', 'orunctl', 'main.ts'),
    spec: '../../runtime/cli/orunctl/program.ts',
  },
] as const;

/** Worker threads' code, each bundled on its own as dist/<name>.cjs (loaded by the module named). */
const workers = [
  // runtime/manifests/decoder.ts: decodes large manifest files off the event loop.
  { name: 'decode-worker', entry: 'runtime/manifests/decode-worker.ts' },
] as const;

const lazyBundle: Plugin = {
  name: 'lazy-bundles',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const lazy = lazyBundles.find((l) => l.spec === args.path && args.importer.endsWith(l.importer));
      return lazy === undefined ? undefined : { path: `./${lazy.name}.cjs`, external: true };
    });
  },
};

/**
 * The entry of a cached CLI: the compile cache must be on before the bundle is compiled, so it
 * cannot be turned on by the bundle itself. The cache lives in $NODE_COMPILE_CACHE, else
 * <tmpdir>/node-compile-cache; Node skips it (and says nothing) where it cannot write.
 */
function cachedEntry(bundle: string): string {
  return [
    '#!/usr/bin/env node',
    "'use strict';",
    "require('node:module').enableCompileCache?.();",
    `require('./${bundle}');`,
    '',
  ].join('\n');
}
const version = buildVersion(resolve(import.meta.dirname, '..'));

await rm('dist/orch-chunks', { recursive: true, force: true }); // left by an older build
await mkdir('dist', { recursive: true });
// The entries are CommonJS too (the package is "type": "module"): Node then never starts its ESM
// loader (`orch validate` 0.8 ms less, of 25).
await writeFile('dist/package.json', '{ "type": "commonjs" }\n');
await Promise.all(
  [...clis, ...lazyBundles.map((l) => l.name), ...workers.map((w) => w.name)].map(async (name) => {
    const lazy = lazyBundles.find((l) => l.name === name) ?? workers.find((w) => w.name === name);
    await build({
      entryPoints: [lazy?.entry ?? `cmd/${name}/main.ts`],
      outfile: `dist/${name}.cjs`,
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      sourcemap: 'linked',
      // Whitespace and comments dropped, non-ASCII escaped: V8 keeps the whole source in memory,
      // now as a one-byte string of 2.6 MiB instead of a two-byte one of 8 MiB. Identifiers stay
      // readable; stack positions map back through the linked source map (--enable-source-maps).
      minifySyntax: true,
      minifyWhitespace: true,
      legalComments: 'none',
      charset: 'ascii',
      // CommonJS requires builtins directly: no ESM facade to avoid.
      plugins: [
        lazyBundle,
        lazyChunks,
        lazySsh2InDockerModem,
        lazySessionInDockerode,
        lazyDebugInDockerModem,
        lazyChildProcessInCommander,
      ],
      define: {
        __ORUN_VERSION__: JSON.stringify(version),
        // CommonJS has no import.meta: the bundle's own path stands in for the module URL,
        // computed on first use (pathToFileURL at every start was 8 % of `orch validate`'s JS).
        'import.meta.url': '__orunModule.url',
        'import.meta.dirname': '__dirname',
      },
      // cpu-features and ssh2's crypto binding are optional native addons; ssh2 works without them.
      external: ['cpu-features', '*.node'],
      banner: {
        js: [
          "var __orunModule={get url(){return require('node:url').pathToFileURL(__filename).href}};",
          // hack/esbuild-plugins.ts CHUNKS: files beside this one.
          "var __orunChunk=function(f){return require('./'+f)};",
        ].join(''),
      },
      logLevel: 'warning',
    });
    if (lazy !== undefined) return;
    await writeFile(`dist/${name}.js`, cachedEntry(`${name}.cjs`));
    await rm(`dist/${name}.js.map`, { force: true }); // left by an older ESM build
    await chmod(`dist/${name}.js`, 0o755);
  }),
);
// The packages no CLI bundle carries (hack/esbuild-plugins.ts CHUNKS), each in its own file.
const resolvePackage = createRequire(import.meta.url);
await Promise.all(
  CHUNKS.map((c) =>
    build({
      entryPoints: [resolvePackage.resolve(c.entry)],
      outfile: `dist/${c.name}.cjs`,
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      minifySyntax: true,
      minifyWhitespace: true,
      legalComments: 'none',
      charset: 'ascii',
      external: ['cpu-features', '*.node'],
      logLevel: 'warning',
    }),
  ),
);

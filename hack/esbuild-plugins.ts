// esbuild plugins shared by hack/build.ts (dist/*.js) and hack/dist.ts (the single executable).
import { readFile } from 'node:fs/promises';
import type { Plugin } from 'esbuild';

/**
 * docker-modem requires ssh2 at load for DOCKER_HOST=ssh:// engines, and ssh2 instantiates its
 * poly1305 module with a 16 MiB heap as it loads: every process that talks to Docker paid 16 MiB
 * of RSS for a transport it did not use. The Client is required when first constructed instead.
 */
export const lazySsh2InDockerModem: Plugin = {
  name: 'lazy-ssh2-in-docker-modem',
  setup(b) {
    b.onLoad({ filter: /[\\/]docker-modem[\\/]lib[\\/]ssh\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const eager = "var Client = require('ssh2').Client,";
      if (!text.includes(eager))
        throw new Error(`lazy-ssh2: ${args.path} changed; update hack/esbuild-plugins.ts`);
      const lazy = "var Client = function () { var C = require('ssh2').Client; return new C(); },";
      return { contents: text.replace(eager, lazy), loader: 'js' };
    });
  },
};

/**
 * dockerode requires its BuildKit session support at load: @grpc/grpc-js, protobufjs and long's
 * WebAssembly module, a third of `orch validate`'s time and several MiB of the agent's heap,
 * used only by `docker build` with BuildKit sessions. It is required on first use instead.
 */
export const lazySessionInDockerode: Plugin = {
  name: 'lazy-session-in-dockerode',
  setup(b) {
    b.onLoad({ filter: /[\\/]dockerode[\\/]lib[\\/]docker\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const eager = "withSession = require('./session'),";
      if (!text.includes(eager))
        throw new Error(`lazy-session: ${args.path} changed; update hack/esbuild-plugins.ts`);
      const lazy = "withSession = function () { return require('./session').apply(this, arguments); },";
      return { contents: text.replace(eager, lazy), loader: 'js' };
    });
  },
};

/**
 * docker-modem formats every request's options with util.inspect (hidden properties, unlimited
 * depth) for a debug line that is off unless DEBUG=modem: 8 % of an idle agent's busy CPU samples
 * (50 Deployments), and as much per request while it reconciles. `%O` formats only when enabled.
 */
export const lazyDebugInDockerModem: Plugin = {
  name: 'lazy-debug-in-docker-modem',
  setup(b) {
    b.onLoad({ filter: /[\\/]docker-modem[\\/]lib[\\/]modem\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const eager =
        /debug\('Sending: %s', util\.inspect\(options, \{\s*showHidden: true,\s*depth: null\s*\}\)\);/;
      if (!eager.test(text))
        throw new Error(`lazy-debug: ${args.path} changed; update hack/esbuild-plugins.ts`);
      return { contents: text.replace(eager, "debug('Sending: %O', options);"), loader: 'js' };
    });
  },
};

/**
 * commander imports node:child_process at load for executable subcommands (`git-style`), which
 * orun, orunctl and orch never declare: loading it was 11 % of `orunctl get deploy`'s CPU samples.
 * It is required on first spawn instead.
 */
export const lazyChildProcessInCommander: Plugin = {
  name: 'lazy-child-process-in-commander',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const eager = "import childProcess from 'node:child_process';";
      if (!text.includes(eager))
        throw new Error(`lazy-child-process: ${args.path} changed; update hack/esbuild-plugins.ts`);
      const lazy = "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };";
      return { contents: text.replace(eager, lazy), loader: 'js' };
    });
  },
};

/**
 * Packages a CLI bundle does not carry: each is bundled into its own file (`<name>.cjs`) and loaded
 * on its first require through `__orunChunk(file)`, which the bundle's banner defines (hack/build.ts:
 * a require beside the bundle; hack/dist.ts: an asset of the single executable). V8 keeps a bundle's
 * whole source in the heap, run or not: ssh2 (for `orun bootstrap` and ssh:// engines), dockerode's
 * BuildKit session (grpc, protobufjs) and age-encryption (for encrypted files) were 0.84 MB of the
 * agent's 2.6 MB script, and the same again in the executable's pages.
 */
export const CHUNKS = [
  { name: 'ssh2', entry: 'ssh2', filter: /^ssh2$/, importer: undefined },
  {
    name: 'docker-session',
    entry: 'dockerode/lib/session.js',
    filter: /^\.\/session$/,
    importer: /[\\/]dockerode[\\/]lib[\\/]docker\.js$/,
  },
  { name: 'age', entry: 'age-encryption', filter: /^age-encryption$/, importer: undefined },
] as const;

export const lazyChunks: Plugin = {
  name: 'lazy-chunks',
  setup(b) {
    for (const c of CHUNKS) {
      b.onResolve({ filter: c.filter }, (args) =>
        c.importer !== undefined && !c.importer.test(args.importer)
          ? undefined
          : { path: `${c.name}.cjs`, namespace: 'orun-chunk' },
      );
    }
    b.onLoad({ filter: /.*/, namespace: 'orun-chunk' }, (args) => ({
      contents: `module.exports = __orunChunk(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

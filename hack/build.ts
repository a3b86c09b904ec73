// Bundles each CLI in cmd/ into one ESM file in dist/, so a CLI starts without resolving
// hundreds of modules. Run with `npm run build`.
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';
import { resolve } from 'node:path';
import { buildVersion } from './version.ts';

const clis = ['orun', 'orunctl', 'orch'] as const;
const version = buildVersion(resolve(import.meta.dirname, '..'));

await Promise.all(
  clis.map(async (name) => {
    const outfile = `dist/${name}.js`;
    await build({
      entryPoints: [`cmd/${name}/main.ts`],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      sourcemap: 'linked',
      minifySyntax: true,
      legalComments: 'none',
      define: { __ORUN_VERSION__: JSON.stringify(version) },
      // cpu-features and ssh2's crypto binding are optional native addons; ssh2 works without them.
      external: ['cpu-features', '*.node'],
      banner: {
        js: [
          '#!/usr/bin/env node',
          "import { createRequire as __orunCreateRequire } from 'node:module';",
          'const require = __orunCreateRequire(import.meta.url);',
          // CommonJS dependencies (ssh2 via dockerode) read __dirname; ESM has none.
          "import { dirname as __orunDirname } from 'node:path';",
          "import { fileURLToPath as __orunFileURLToPath } from 'node:url';",
          'const __filename = __orunFileURLToPath(import.meta.url);',
          'const __dirname = __orunDirname(__filename);',
        ].join('\n'),
      },
      logLevel: 'warning',
    });
    await chmod(outfile, 0o755);
  }),
);

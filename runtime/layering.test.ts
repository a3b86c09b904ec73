// The layering rule of eslint.config.js fires on every wrong-way import and lets the right ones
// through (docs/design/README.md: cmd → controllers → runtime edges → runtime core → apis).
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { layering } from '../eslint.config.js';

const eslint = new ESLint({
  cwd: new URL('..', import.meta.url).pathname,
  overrideConfigFile: true,
  overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, ...layering()],
});

async function violations(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('layering lint rule', () => {
  it.each([
    ['apis/run.orcra.dev/v0alpha/x.ts', "import { Store } from '../../../runtime/store/index.ts';"],
    ['apis/orchfile/x.ts', "import { pino } from 'pino';"],
    ['runtime/store/x.ts', "import { DockerEngine } from '../docker/dockerode.ts';"],
    ['runtime/controller/x.ts', "import { GitSource } from '../git/index.ts';"],
    ['runtime/manager/x.ts', "import { decryptSopsDocuments } from '../sops/index.ts';"],
    ['runtime/docker/x.ts', "import { Reason } from '../../controllers/deployment/index.ts';"],
    ['runtime/informer/x.ts', "import { VERSION } from '../../cmd/orun/main.ts';"],
    // The informer is core: its loader and decryptor come through its constructor.
    ['runtime/informer/x.ts', "import { loadManifestTree } from '../manifests/tree.ts';"],
    ['runtime/informer/x.ts', "import { SopsManifestDecryptor } from '../sops/index.ts';"],
    ['controllers/node/x.ts', "import { buildAgent } from '../../cmd/orun/agent.ts';"],
    ['runtime/cli/x.ts', "import { NodeController } from '../../controllers/node/index.ts';"],
    ['runtime/config/x.ts', "import { startCommand } from '../../cmd/orun/start.ts';"],
  ])('%s: %s is refused', async (file, source) => {
    expect(await violations(file, source)).toEqual([
      expect.stringMatching(/^(@typescript-eslint\/)?no-restricted-imports: .*layering/),
    ]);
  });

  it.each([
    ['apis/run.orcra.dev/v0alpha/x.ts', "import { z } from 'zod';\nimport { objectKey } from './meta.ts';"],
    [
      'runtime/store/x.ts',
      "import { realClock } from '../clock/index.ts';\nimport { OrunError } from '../../apis/errors.ts';",
    ],
    ['runtime/docker/x.ts', "import { Store } from '../store/index.ts';"],
    ['runtime/informer/x.ts', "import type { SecretString } from '../sops/secret.ts';"],
    ['runtime/sops/x.ts', "import { SECRETS_FILE } from '../informer/secrets.ts';"],
    ['controllers/node/x.ts', "import { Store } from '../../runtime/store/index.ts';"],
    ['cmd/orun/x.ts', "import { NodeController } from '../../controllers/node/index.ts';"],
    ['runtime/cli/orunctl/x.ts', "import { ApiClient } from '../../api/client.ts';"],
    ['runtime/store/x.test.ts', "import { DockerEngine } from '../docker/dockerode.ts';"],
  ])('%s: %s is allowed', async (file, source) => {
    expect(await violations(file, source)).toEqual([]);
  });
});

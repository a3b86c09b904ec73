import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { SOURCE_ANNOTATION } from '../../apis/run.orcra.dev/v0alpha/index.ts';
import { loadManifestRepo } from './load.ts';
import { validateManifestRepo } from './validate.ts';
import { writeTree } from '../../test/support/files.ts';

const H = 'apiVersion: run.orcra.dev/v0alpha\n';
const dep = (name: string, port = 8080) =>
  `${H}kind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  image: nginx:1\n  ports:\n    - containerPort: 80\n      port: ${port}\n`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orun-load-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function write(files: Record<string, string>): Promise<void> {
  return writeTree(dir, files);
}

describe('loadManifestRepo', () => {
  it('reads the kind directories (nested, .yaml and .yml) and nothing else', async () => {
    await write({
      'deployments/web.yaml': dep('web'),
      'deployments/team/api.yml': dep('api', 8081),
      'deployments/README.md': 'not a manifest',
      'deployments/.hidden.yaml': 'kind: [',
      'other/x.yaml': dep('x'),
      'secrets.yaml': 'sops: {}',
      [`services/web.yaml`]: `${H}kind: Service\nmetadata:\n  name: web\nspec:\n  deployment: web\n  ingress:\n    domain:\n      default: web.example.com\n`,
    });
    const repo = await loadManifestRepo(dir);
    expect(repo.files.map((f) => f.path)).toEqual([
      'deployments/team/api.yml',
      'deployments/web.yaml',
      'services/web.yaml',
    ]);
    expect(repo.objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Deployment/api',
      'Deployment/web',
      'Service/web',
    ]);
    expect(repo.errors).toEqual([]);
  });

  it('annotates objects with their source path and commit', async () => {
    await write({ 'deployments/web.yaml': dep('web') });
    const plain = await loadManifestRepo(dir);
    expect(plain.objects[0]?.metadata.annotations?.[SOURCE_ANNOTATION]).toBe('deployments/web.yaml');
    const atCommit = await loadManifestRepo(dir, { commit: '0123abc' });
    expect(atCommit.objects[0]?.metadata.annotations?.[SOURCE_ANNOTATION]).toBe(
      'deployments/web.yaml@0123abc',
    );
  });

  it('reports errors per file, with repo-relative paths, and keeps other files', async () => {
    await write({
      'deployments/good.yaml': dep('good'),
      'deployments/bad.yaml': `${dep('bad')}---\n${H}kind: Deployment\nmetadata:\n  name: worse\nspec:\n  image: nginx:1\n  prots: []\n`,
    });
    const repo = await loadManifestRepo(dir);
    const bad = repo.files.find((f) => f.path === 'deployments/bad.yaml');
    expect(bad?.objects.map((o) => o.metadata.name)).toEqual(['bad']);
    expect(bad?.errors.map((e) => e.format())).toEqual([
      'deployments/bad.yaml:17:3: spec.prots: unknown field, did you mean "ports"?',
    ]);
    expect(repo.files.find((f) => f.path === 'deployments/good.yaml')?.errors).toEqual([]);
    expect(repo.objects.map((o) => o.metadata.name)).toEqual(['bad', 'good']);
    expect(repo.errors).toHaveLength(1);
  });

  it('treats missing kind directories as empty', async () => {
    const repo = await loadManifestRepo(dir);
    expect(repo).toMatchObject({ objects: [], errors: [], files: [] });
  });

  it('throws a typed error when the directory itself is missing', async () => {
    const err: unknown = await loadManifestRepo(join(dir, 'nope')).catch((e: unknown) => e);
    expect(isOrunError(err, 'manifests_dir_unreadable')).toBe(true);
  });
});

describe('validateManifestRepo', () => {
  it('adds cross-object and file-reference errors', async () => {
    await write({
      'deployments/a.yaml': dep('a'),
      'deployments/b.yaml': dep('b'),
      'servicegraphs/g.yaml': `${H}kind: ServiceGraph\nmetadata:\n  name: g\nspec:\n  orchfiles: [stack/Orchfile, stack/missing]\n`,
      'stack/Orchfile': '',
    });
    const { errors } = await validateManifestRepo(dir);
    expect(errors.map((e) => e.format())).toEqual([
      'deployments/b.yaml:9:7: spec.ports[0].port: host port 8080/tcp is also claimed by Deployment "a" (deployments/a.yaml:9:7)',
      'servicegraphs/g.yaml:6:31: spec.orchfiles[1]: file "stack/missing" not found in the repository',
    ]);
  });

  it('passes the sample repository', async () => {
    const { errors, warnings, repo } = await validateManifestRepo(
      join(import.meta.dirname, '../../config/samples'),
    );
    expect([...errors, ...warnings].map((e) => e.format())).toEqual([]);
    expect(repo.objects.length).toBeGreaterThanOrEqual(4);
  });
});

import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
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

// Issue 9 bug 4: symlinks were followed out of the checkout and the target quoted in errors.
describe('loadManifestRepo: the repository boundary', () => {
  const SECRET = 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ';
  let outsideDir: string;
  beforeEach(async () => {
    outsideDir = await mkdtemp(join(tmpdir(), 'orun-outside-'));
    await writeFile(join(outsideDir, 'age.key'), `${SECRET}\n`);
    await writeFile(join(outsideDir, 'web.yaml'), dep('stolen'));
  });
  afterEach(async () => {
    await rm(outsideDir, { recursive: true, force: true });
  });

  it('never reads a symlinked manifest (as the agent reading Git objects), nor quotes it', async () => {
    await write({ 'deployments/web.yaml': dep('web'), 'deployments/inside.yaml': dep('inside', 8081) });
    await symlink(join(outsideDir, 'age.key'), join(dir, 'deployments/key.yaml'));
    await symlink(join(dir, 'deployments/inside.yaml'), join(dir, 'deployments/alias.yaml'));
    const repo = await loadManifestRepo(dir);
    expect(repo.errors.map((e) => [e.code, e.format()])).toEqual([
      [
        'read_failed',
        'deployments/alias.yaml:1:1: is a symbolic link; links are never followed (commit the file itself)',
      ],
      [
        'read_failed',
        'deployments/key.yaml:1:1: is a symbolic link; links are never followed (commit the file itself)',
      ],
    ]);
    expect(JSON.stringify(repo)).not.toContain('AGE-SECRET');
    expect(repo.objects.map((o) => o.metadata.name)).toEqual(['inside', 'web']);
  });

  it('does not read a kind directory symlinked out of the repository', async () => {
    await symlink(outsideDir, join(dir, 'deployments'));
    const repo = await loadManifestRepo(dir);
    expect(repo.objects).toEqual([]);
    expect(repo.errors.map((e) => [e.file, e.code])).toEqual([['deployments', 'read_failed']]);
  });

  it('does not follow a symlinked sub-directory', async () => {
    await mkdir(join(dir, 'deployments'));
    await symlink(outsideDir, join(dir, 'deployments/team'));
    const repo = await loadManifestRepo(dir);
    expect(repo.files).toEqual([]);
  });
});

describe('loadManifestRepo: size limits', () => {
  it('does not read a file over the per-file limit, and reads the others', async () => {
    await write({
      'deployments/big.yaml': `${dep('big')}#${'x'.repeat(2000)}\n`,
      'deployments/web.yaml': dep('web'),
    });
    const repo = await loadManifestRepo(dir, { limits: { maxFileBytes: 1000, maxRepoBytes: 1e6 } });
    expect(repo.errors.map((e) => [e.file, e.code])).toEqual([['deployments/big.yaml', 'too_large']]);
    expect(repo.objects.map((o) => o.metadata.name)).toEqual(['web']);
  });

  it('parses no file of a repository over the total limit', async () => {
    await write({ 'deployments/a.yaml': dep('a'), 'deployments/b.yaml': dep('b', 8081) });
    const repo = await loadManifestRepo(dir, { limits: { maxFileBytes: 1000, maxRepoBytes: 200 } });
    expect(repo.objects).toEqual([]);
    expect(repo.errors.map((e) => e.format())).toEqual([
      expect.stringMatching(
        /^deployments\/a\.yaml:1:1: file is \d+ bytes, over the limit of 200 for all manifest files/,
      ),
      expect.stringMatching(/^deployments\/b\.yaml:1:1: /),
    ]);
  });

  it('stops when superseded', async () => {
    await write({ 'deployments/a.yaml': dep('a') });
    const err: unknown = await loadManifestRepo(dir, { signal: AbortSignal.abort() }).catch(
      (e: unknown) => e,
    );
    expect(isOrunError(err, 'manifests.superseded')).toBe(true);
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

  it("parses each ServiceGraph's Orchfiles: errors at their own file:line:col, unknown spec.services", async () => {
    await write({
      'servicegraphs/g.yaml': `${H}kind: ServiceGraph\nmetadata:\n  name: g\nspec:\n  orchfiles: [stack/Orchfile, stack/dev.orch]\n`,
      'servicegraphs/h.yaml': `${H}kind: ServiceGraph\nmetadata:\n  name: h\nspec:\n  orchfiles: [stack/ok]\n  services: [web, nope]\n`,
      'stack/Orchfile': 'SERVICE web\nFROM nginx\n',
      'stack/dev.orch': 'SERVICE web\n  RUN serve\n  PUBLISHH 1:2\n',
      'stack/ok': 'SERVICE web\nFROM nginx\n',
    });
    const { errors } = await validateManifestRepo(dir);
    expect(errors.map((e) => e.format())).toEqual([
      "servicegraphs/h.yaml:7:19: spec.services[1]: no service named 'nope' in the Orchfiles",
      expect.stringMatching(/^stack\/dev\.orch:3:3: .*unknown directive 'PUBLISHH'/),
    ]);
    expect(errors.map((e) => e.code)).toEqual(['missing_reference', 'orchfile_invalid']);
  });

  it('applies the host-path policy of each Node a Deployment lands on', async () => {
    const vol = (name: string, hostPath: string) =>
      `${H}kind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  image: nginx:1\n  volumes:\n    - hostPath: ${hostPath}\n      containerPath: /x\n`;
    await write({
      'deployments/a.yaml': vol('a', '/etc'),
      'deployments/b.yaml': vol('b', '/srv/b'),
      'deployments/c.yaml': vol('c', '/var/run/docker.sock'),
    });
    const { errors } = await validateManifestRepo(dir);
    expect(errors.map((e) => e.format())).toEqual([
      `deployments/a.yaml:8:7: spec.volumes[0].hostPath: hostPath "/etc" is /etc, refused by the default host-path policy; list it in the Node's spec.allowedHostPaths to allow it`,
      `deployments/c.yaml:8:7: spec.volumes[0].hostPath: hostPath "/var/run/docker.sock" is /var/run/docker.sock, refused by the default host-path policy; list it in the Node's spec.allowedHostPaths to allow it`,
    ]);
    await write({
      'nodes/n1.yaml': `${H}kind: Node\nmetadata:\n  name: n1\nspec:\n  host: h\n  gitRepo: r\n  allowedHostPaths: [/srv, /var/run/docker.sock]\n`,
    });
    expect((await validateManifestRepo(dir)).errors.map((e) => e.format())).toEqual([
      'deployments/a.yaml:8:7: spec.volumes[0].hostPath: hostPath "/etc" is not under any of Node "n1" allowedHostPaths (/srv, /var/run/docker.sock)',
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

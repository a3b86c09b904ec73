// `orun validate` and `orun schema` as users run them: the built bundle, a real process, exit codes.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeTree } from '../support/files.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const ORUN = join(ROOT, 'dist/orun.js');

function orun(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  return orunEnv({}, ...args);
}

function orunEnv(
  env: Record<string, string>,
  ...args: string[]
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [ORUN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const H = 'apiVersion: run.orcra.dev/v0alpha\n';
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orun-validate-e2e-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function write(files: Record<string, string>): Promise<void> {
  return writeTree(dir, files);
}

describe('orun validate', () => {
  it('passes the sample repository with a one-line summary', () => {
    const r = orun('validate', 'config/samples');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('validated 4 objects in 4 files: 1 Node, 2 Deployments, 1 Service\n');
    expect(r.code).toBe(0);
  });

  it('prints every error with file:line:col and field path, and exits 1', async () => {
    await write({
      'deployments/web.yaml': `${H}kind: Deployment\nmetadata:\n  name: web\nspec:\n  ports:\n  - containerPort: http\n    port: 8080\n  imgae: nginx:1\n`,
      'services/web.yaml': `${H}kind: Service\nmetadata:\n  name: web\nspec:\n  deployment: api\n  ingress:\n    domain:\n      default: web.example.com\n`,
    });
    const r = orun('validate', dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toEqual([
      'deployments/web.yaml:5:1: spec: one of image or build is required',
      'deployments/web.yaml:7:5: spec.ports[0].containerPort: expected integer 1-65535, got "http"',
      'deployments/web.yaml:9:3: spec.imgae: unknown field, did you mean "image"?',
      'services/web.yaml:6:3: spec.deployment: Deployment "api" not found',
      'orun validate: 4 errors in 2 files',
      '',
    ]);
  });

  it("checks with the agent's size limits: --max-manifest-bytes, else ORUN_MAX_MANIFEST_BYTES, else 1MiB", async () => {
    const text = `${H}kind: Deployment\nmetadata:\n  name: web\nspec:\n  image: nginx:1\n# ${'x'.repeat(2000)}\n`;
    await write({ 'deployments/web.yaml': text });
    expect(orun('validate', dir).code).toBe(0);
    const refused = `deployments/web.yaml:1:1: file is ${text.length} bytes, over the limit of 1024 per manifest file; not parsed`;
    const flag = orun('validate', '--max-manifest-bytes', '1KiB', dir);
    expect([flag.code, flag.stderr.split('\n')[0]]).toEqual([1, refused]);
    const env = orunEnv({ ORUN_MAX_MANIFEST_BYTES: '1KiB' }, 'validate', dir);
    expect([env.code, env.stderr.split('\n')[0]]).toEqual([1, refused]);
    const repo = orun('validate', '--max-repo-bytes', '1KiB', dir);
    expect(repo.stderr.split('\n')[0]).toBe(
      `deployments/web.yaml:1:1: file is ${text.length} bytes, over the limit of 1024 for all manifest files of the repository; not parsed`,
    );
    const bad = orun('validate', '--max-manifest-bytes', 'lots', dir);
    expect([bad.code, bad.stderr]).toEqual([
      1,
      'orun: validate: max manifest bytes "lots": expected a size like 1048576, 512KiB or 1MiB\n',
    ]);
  });

  it('reports a host port clash between two files', async () => {
    const dep = (name: string) =>
      `${H}kind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  image: nginx:1\n  ports:\n    - containerPort: 80\n      port: 8080\n`;
    await write({ 'deployments/a.yaml': dep('a'), 'deployments/b.yaml': dep('b') });
    const r = orun('validate', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'deployments/b.yaml:9:7: spec.ports[0].port: host port 8080/tcp is also claimed by Deployment "a" (deployments/a.yaml:9:7)\n',
    );
  });

  it('prints warnings but exits 0 when there are only warnings', async () => {
    await write({
      'nodes/web.yaml': `${H}kind: Deployment\nmetadata:\n  name: web\nspec:\n  image: nginx:1\n`,
    });
    const r = orun('validate', dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'nodes/web.yaml:2:1: warning: kind: Deployment belongs in deployments/, not nodes/\n',
    );
    expect(r.stdout).toBe('validated 1 object in 1 file: 1 Deployment\n');
  });

  it('fails clearly on a directory that does not exist', () => {
    const r = orun('validate', join(dir, 'missing'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^orun: manifests: read .*missing: not a readable directory\n$/);
  });
});

describe('orun schema', () => {
  it('writes one JSON Schema per kind, identical to the committed ones', async () => {
    const r = orun('schema', '--out', dir);
    expect(r.code).toBe(0);
    const files = (await readdir(dir)).sort();
    expect(files).toEqual([
      'deployment.schema.json',
      'manifest.schema.json',
      'node.schema.json',
      'service.schema.json',
      'servicegraph.schema.json',
    ]);
    for (const f of files) {
      expect(await readFile(join(dir, f), 'utf8')).toBe(
        await readFile(join(ROOT, 'config/schemas', f), 'utf8'),
      );
    }
  });
});

describe('orun --help', () => {
  it('lists every command with a description', () => {
    const r = orun('--help');
    expect(r.code).toBe(0);
    for (const cmd of ['start', 'bootstrap', 'validate', 'schema'])
      expect(r.stdout).toMatch(new RegExp(`\\n  ${cmd}\\b.*\\w`));
  });
  it('start without a repository says how to give one (exit 1)', () => {
    const r = orun('start', '--node', 'n1');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'orun: start: no manifest repository: pass --repo URL|PATH (or set ORUN_REPO, or repo: in the config file)\n',
    );
  });
  it.each([
    [['bootstrap', 'web-1'], /^error: bootstrap: missing --host, --repo \(give them as arguments/],
    [['nope'], /^error: unknown command 'nope'\n/],
    [['start', '--poll-interval'], /^error: option '--poll-interval <duration>' argument missing\n/],
  ])('usage error %j exits 2 with a message naming what is wrong', (args, message) => {
    const r = orun(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

// Hostile manifests: `orun validate` (dist/orun.js, reading a directory) and the agent (reading
// Git objects) must agree on each: both refuse it or both accept it. One agent run holds them all
// beside a good Deployment, which must still run (per-file isolation).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AgentProcess,
  condition,
  deploymentYaml,
  nodeYaml,
  removeContainers,
  uniquePrefix,
  waitFor,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { requireTestImage } from '../support/services.ts';
import { recordScenario } from './report.ts';

const H = 'apiVersion: run.orcra.dev/v0alpha\n';
const dep = (name: string, spec: string) =>
  `${H}kind: Deployment\nmetadata:\n  name: ${name}\nspec:\n${spec}`;
const vol = (name: string, hostPath: string) =>
  dep(
    name,
    `  image: orun-test/busybox:1\n  volumes:\n    - hostPath: ${hostPath}\n      containerPath: /x\n`,
  );

/**
 * name → file text (or a symlink target) at `deployments/<name>.yaml`, or at `path`; `refused` is
 * what both must say.
 */
const CASES: { name: string; path?: string; text?: string; symlink?: string; refused: boolean }[] = [
  { name: 'no-spec', text: `${H}kind: Deployment\nmetadata:\n  name: h-no-spec\n`, refused: true },
  { name: 'empty-spec', text: dep('h-empty-spec', ''), refused: true },
  { name: 'scalar-spec', text: dep('h-scalar-spec', '  7\n'), refused: true },
  {
    name: 'nul-env',
    text: dep('h-nul', '  image: orun-test/busybox:1\n  env:\n    A: "x\\0y"\n'),
    refused: true,
  },
  { name: 'dup-keys', text: dep('h-dup', '  image: a:1\n  image: b:1\n'), refused: true },
  {
    name: 'big-map',
    text: dep(
      'h-big',
      `  image: orun-test/busybox:1\n  env:\n${Array.from({ length: 80_000 }, (_, i) => `    K${i}: v\n`).join('')}`,
    ),
    refused: true,
  },
  { name: 'deep-nesting', text: `${'['.repeat(10_000)}${']'.repeat(10_000)}\n`, refused: true },
  // Decoded in the agent's worker thread (over 8 KiB): errors at the same lines as validate's.
  {
    name: 'worker-errors',
    text: dep(
      'h-worker',
      `  image: orun-test/busybox:1\n  env:\n${Array.from({ length: 1000 }, (_, i) => `    K${i}: v\n`).join('')}  ports:\n    - containerPort: http\n  imgae: x\n`,
    ),
    refused: true,
  },
  {
    name: 'many-aliases',
    text: dep(
      'h-aliases',
      `  image: orun-test/busybox:1\n  env:\n    A: &a v\n${Array.from({ length: 101 }, (_, i) => `    K${i}: *a\n`).join('')}`,
    ),
    refused: true,
  },
  {
    name: 'alias-bomb',
    text: `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n`,
    refused: true,
  },
  { name: 'binary', text: '\u0000\u0001\u00ff\ufffe garbage', refused: true },
  { name: 'not-dns-name', text: dep('Bad_Name', '  image: orun-test/busybox:1\n'), refused: true },
  { name: 'host-root', text: vol('h-root', '/'), refused: true },
  { name: 'host-etc', text: vol('h-etc', '/etc'), refused: true },
  { name: 'host-proc', text: vol('h-proc', '/proc'), refused: true },
  { name: 'host-docker-sock', text: vol('h-sock', '/var/run/docker.sock'), refused: true },
  { name: 'host-dotdot', text: vol('h-dotdot', '/srv/../etc/shadow'), refused: true },
  { name: 'host-ok', text: vol('h-ok', '/srv/orun-chaos-ok'), refused: false },
  { name: 'symlink-passwd', symlink: '/etc/passwd', refused: true },
  { name: 'symlink-inside', symlink: 'host-ok.yaml', refused: true },
  // Issue 9 bug 4: a top-level kind directory symlinked to /etc was read.
  { name: 'symlink-kind-dir', path: 'services', symlink: '/etc', refused: true },
  // Issue 9 bug 7: two files define one name; one keeps it (the running object's file, else the
  // first by path: host-ok here) and the other is the one both report.
  { name: 'zz-dup-name', text: vol('h-ok', '/srv/orun-chaos-ok'), refused: true },
  // Issue 9 bug 6: an https readiness probe passed `orun validate` and was never run.
  {
    name: 'https-probe',
    text: dep(
      'h-https',
      '  image: orun-test/busybox:1\n  health:\n    readiness:\n      http: https://localhost:8443/health\n',
    ),
    refused: false,
  },
];

const fileOf = (c: (typeof CASES)[number]): string => c.path ?? `deployments/${c.name}.yaml`;

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('chaos: hostile manifests', () => {
  it('orun validate and the agent refuse the same files; the good Deployment runs', async () => {
    requireTestImage();
    const started = Date.now();
    const prefix = uniquePrefix('hostile');
    const repo = new TestGitRepo('orun-hostile-');
    const dataDir = mkdtempSync(join(tmpdir(), 'orun-data-hostile-'));
    const node = `${prefix}-node`;
    const good = `${prefix}-good`;
    cleanups.push(() => {
      // The h-* cases' containers first: they sit on the node's network, which removeContainers(prefix)
      // removes once nothing uses it.
      removeContainers('h-');
      removeContainers(prefix);
      repo.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const files: Record<string, string> = {
      [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
      [`deployments/${good}.yaml`]: deploymentYaml(good),
    };
    for (const c of CASES) if (c.text !== undefined) files[fileOf(c)] = c.text;
    repo.write(files);
    for (const c of CASES) if (c.symlink !== undefined) symlinkSync(c.symlink, join(repo.work, fileOf(c)));
    repo.commit('hostile manifests');

    // orun validate on the same tree.
    const v = spawnSync(process.execPath, [resolve('dist/orun.js'), 'validate', repo.work], {
      encoding: 'utf8',
    });
    expect(v.status).toBe(1);
    const validateRefused = new Set(
      v.stderr
        .split('\n')
        .map((l) => /^([^:]+):\d+:\d+: (?!warning)/.exec(l)?.[1])
        .filter((x): x is string => x !== undefined),
    );

    const agent = new AgentProcess({ repo: repo.bare, node, dataDir });
    cleanups.push(async () => {
      await agent.stop('SIGKILL');
    });
    const nodeObj = await waitFor(
      'the Node reports the hostile files',
      async () => {
        const n = await agent.object('nodes', node);
        return condition(n, 'ManifestsValid')?.status === 'False' ? n : undefined;
      },
      60_000,
      () => agent.dump(),
    );
    const agentErrors = (nodeObj.status?.sourceErrors ?? []) as { file: string; message: string }[];
    const agentRefused = new Set(agentErrors.map((e) => e.file));
    await waitFor(
      'the good Deployment is Ready',
      async () => condition(await agent.object('deployments', good), 'Ready')?.status === 'True',
      60_000,
      () => agent.dump(),
    );
    const healthz = execFileSync(
      'curl',
      ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', agent.socket, 'http://x/version'],
      { encoding: 'utf8' },
    );
    expect(healthz).toBe('200');

    const table = [['case', 'expected', 'orun validate', 'agent', 'agent message']];
    for (const c of CASES) {
      const msg = agentErrors.find((e) => e.file === fileOf(c))?.message ?? '';
      table.push([
        c.name,
        c.refused ? 'refused' : 'accepted',
        validateRefused.has(fileOf(c)) ? 'refused' : 'accepted',
        agentRefused.has(fileOf(c)) ? 'refused' : 'accepted',
        msg.slice(0, 90),
      ]);
    }
    const disagree = table.slice(1).filter((r) => r[1] !== r[2] || r[1] !== r[3]);
    // The same errors, not only the same files: file, line, column, field and message (a file
    // of 8 KiB or more is decoded in the agent's worker thread, the others on its event loop).
    // A duplicate name is at the same place; its message differs by design: the agent names the
    // file that keeps the object (the running one's), validate the first by path.
    const caseFiles = new Set(CASES.map(fileOf));
    const dup = (l: string) =>
      l.replace(/^(\S+:\d+:\d+: metadata\.name): duplicate .*$/, '$1: (duplicate name)');
    const validateErrors = v.stderr
      .split('\n')
      .filter((l) => caseFiles.has(l.split(':')[0] ?? '') && !/^[^:]+:\d+:\d+: warning/.test(l))
      .map(dup)
      .sort();
    const agentErrorLines = (nodeObj.status?.sourceErrors ?? [])
      .map(
        (e) => e as { file: string; line: number; col: number; path: string; code: string; message: string },
      )
      .filter((e) => caseFiles.has(e.file))
      .map((e) => {
        const at = `${e.file}:${e.line}:${e.col}: `;
        if (e.code === 'duplicate_name') return `${at}${e.path}: (duplicate name)`;
        return `${at}${e.path === '' ? '' : `${e.path}: `}${e.message}`;
      })
      .sort();
    // No error quotes file content it does not point at (the symlinked /etc/passwd is never read).
    expect(JSON.stringify(nodeObj)).not.toContain('root:x:0:0');
    recordScenario({
      name: 'hostile-manifests',
      checked: [
        '`orun validate` and the agent refuse exactly the expected files (agreement per file), with the same errors: file, line, column, field and message (a duplicate name: its place; the agent names the file that keeps it)',
        'the Node says ManifestsValid=False and lists every refused file; a good Deployment beside them is Ready',
        'the local API answers while the repository is loaded; no error quotes a symlink target',
      ],
      table,
      cases: CASES.length,
      ms: Date.now() - started,
    });
    expect(disagree).toEqual([]);
    expect(agentErrorLines).toEqual(validateErrors);
    await agent.stop('SIGTERM');
  });
});

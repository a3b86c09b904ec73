/**
 * orunctl (dist/orunctl.js) against a real agent (dist/orun.js start) with real git and dockerd.
 * Deployment `a` carries a SOPS-encrypted env value: the container gets the plaintext, and the
 * test checks that no orunctl output, agent log line or /metrics sample ever shows it.
 * Containers are named `orun-<prefix>-*`; the test removes only those.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptSopsDocument } from '../../runtime/sops/index.ts';
import {
  AgentProcess,
  condition,
  containerNameOf,
  containersWithPrefix,
  deploymentYaml,
  nodeYaml,
  removeContainers,
  uniquePrefix,
  waitFor,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { freePort } from '../support/net.ts';
import { orunctl as run, type OrunctlResult } from '../support/orunctl.ts';
import { requireTestImage } from '../support/services.ts';

const prefix = uniquePrefix('ctl');
const node = `${prefix}-node`;
const a = `${prefix}-a`;
const b = `${prefix}-b`;
const SECRET = `plain-${prefix}-hunter2`;
let repo: TestGitRepo;
let dataDir: string;
let agent: AgentProcess;
let metricsUrl: string;
let firstCommit: string;
let startedAt: number;
/** Every orunctl stdout/stderr of this file, checked for the secret at the end. */
const outputs: string[] = [];

function orunctl(
  args: readonly string[],
  onStdout?: (out: string, stop: () => void) => void,
  timeoutMs?: number,
): Promise<OrunctlResult> {
  return run(args, { ORUN_SOCKET: agent.socket }, onStdout, timeoutMs).then((r) => {
    outputs.push(r.stdout, r.stderr);
    return r;
  });
}

async function sopsDeployment(name: string, recipient: string): Promise<string> {
  const plain = parse(deploymentYaml(name, { DB_PASSWORD: SECRET, MODE: 'production' })) as Record<
    string,
    unknown
  >;
  return encryptSopsDocument(plain, { recipients: [recipient], encryptedRegex: '^DB_PASSWORD$' });
}

/** Seconds in a kubectl AGE cell (`42s`, `1m3s`). */
function ageSeconds(cell: string): number {
  const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(cell);
  if (m === null || cell === '') throw new Error(`not an age: ${cell}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

beforeAll(async () => {
  requireTestImage();
  repo = new TestGitRepo('orun-ctl-');
  dataDir = mkdtempSync(join(tmpdir(), 'orun-ctl-data-'));
  const identity = await generateX25519Identity();
  const keyPath = join(dataDir, 'age.key');
  writeFileSync(keyPath, `${identity}\n`, { mode: 0o600 });
  firstCommit = repo
    .write({
      [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
      [`deployments/${a}.yaml`]: await sopsDeployment(a, await identityToRecipient(identity)),
      [`deployments/${b}.yaml`]: deploymentYaml(b, { COLOR: 'blue' }),
    })
    .commit('two deployments, one with a SOPS secret');
  const metrics = `127.0.0.1:${await freePort()}`;
  metricsUrl = `http://${metrics}`;
  startedAt = Date.now();
  agent = new AgentProcess({
    repo: repo.bare,
    node,
    dataDir,
    extraArgs: ['--age-key-path', keyPath, '--metrics-address', metrics],
  });
  for (const n of [a, b]) {
    await waitFor(
      `Deployment ${n} Ready=True`,
      async () => condition(await agent.object('deployments', n), 'Ready')?.status === 'True',
      45_000,
      () => agent.dump(),
    );
  }
});

afterAll(async () => {
  await agent?.stop('SIGKILL');
  removeContainers(prefix);
  repo?.cleanup();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

describe('orunctl against a running agent (e2e: real git, dockerd, dist/orun.js and dist/orunctl.js)', () => {
  it('the container got the decrypted secret (so the masking below is tested against a real value)', () => {
    const env = containersWithPrefix(prefix).find((c) => c.deployment === a)?.env ?? [];
    expect(env).toContain(`DB_PASSWORD=${SECRET}`);
  });

  it('get deploy: kubectl columns, one row per Deployment, plausible ages', async () => {
    const r = await orunctl(['get', 'deploy']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME {3,}READY {3}STATUS {4}RESTARTS {3}IMAGE {3,}PORTS {3,}AGE$/);
    expect(lines).toHaveLength(3);
    const elapsed = (Date.now() - startedAt) / 1000;
    for (const [i, n] of [a, b].entries()) {
      const m = new RegExp(`^${n} {3}1/1 {5}Running {3}0 {10}orun-test/busybox:1 {3}<none> {3}(\\S+)$`).exec(
        lines[i + 1] ?? '',
      );
      expect(m, r.stdout).not.toBeNull();
      const age = ageSeconds(m?.[1] ?? '');
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThanOrEqual(elapsed + 1);
    }
  });

  it('get no: the revision as main@sha1:<short sha>, synced seconds ago', async () => {
    const r = await orunctl(['get', 'no']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^NAME {3,}STATUS {3}BRANCH {3}REVISION {12}SYNCED {3,}SUSPENDED {3}AGE\\n${node} {3}\\S+ +main {5}main@sha1:${firstCommit.slice(0, 7)} {3}\\d+s ago {3,}False {7}\\d+s\\n$`,
      ),
    );
  });

  it('get all: every Deployment with its kind prefix', async () => {
    const r = await orunctl(['get', 'all']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^NAME +READY +STATUS`));
    expect(r.stdout).toMatch(new RegExp(`\\ndeployment/${a} +1/1 +Running `));
    expect(r.stdout).toMatch(new RegExp(`\\ndeployment/${b} +1/1 +Running `));
  });

  it('describe deploy: the secret masked, conditions and events tables', async () => {
    const r = await orunctl(['describe', 'deploy', a]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`Name:         ${a}\nKind:         Deployment\n`);
    expect(r.stdout).toMatch(/\n {4}DB_PASSWORD: {2}<set to the secret value>\n {4}MODE: {9}production\n/);
    expect(r.stdout).toMatch(
      /\nConditions:\n {2}Type {3}Status {2}Reason {10}Message +LastTransitionTime\n {2}---- {3}------ {2}------ {10}-------.*\n {2}Ready {2}True {4}ContainerReady {2}container running and ready/,
    );
    expect(r.stdout).toMatch(/\nEvents:\n {2}Type {4}Reason {3}Age {3}From {19}Message\n/);
    expect(r.stdout).toMatch(
      new RegExp(
        `\\n {2}Normal {2}Created {2}\\d+s +deployment-controller {2}Created container orun-${a}_[-a-z0-9]+_[0-9a-f]{8} `,
      ),
    );
    expect(r.stdout).toMatch(/\n {2}Normal {2}Started /);
  });

  it('-o yaml, -o json and -o name', async () => {
    const y = await orunctl(['get', 'deploy', a, '-o', 'yaml']);
    expect(y.code).toBe(0);
    expect(y.stdout).toMatch(/^apiVersion: run.orcra.dev\/v0alpha\nkind: Deployment\nmetadata:\n {2}name: /);
    expect(y.stdout).toContain('    DB_PASSWORD:\n      secret: true\n');
    const doc = parse(y.stdout) as { status: { ready: boolean; containerName: string } };
    expect(doc.status).toMatchObject({ ready: true, containerName: containerNameOf(a) });

    const j = await orunctl(['get', 'deploy', '-o', 'json']);
    const list = JSON.parse(j.stdout) as {
      kind: string;
      items: { metadata: { name: string }; spec: { env?: Record<string, unknown> } }[];
    };
    expect(list.kind).toBe('List');
    expect(list.items.map((i) => i.metadata.name)).toEqual([a, b]);
    expect(list.items[0]?.spec.env).toEqual({ DB_PASSWORD: { secret: true }, MODE: 'production' });

    const n = await orunctl(['get', 'deploy', '-o', 'name']);
    expect(n.stdout).toBe(`deployment/${a}\ndeployment/${b}\n`);
  });

  it('logs --tail: the container output through the agent', async () => {
    // busybox httpd logs nothing itself; write to PID 1's stdout, which docker collects.
    execFileSync('docker', [
      'exec',
      containerNameOf(a) ?? a,
      'sh',
      '-c',
      'for i in 1 2 3; do echo "line $i" > /proc/1/fd/1; done',
    ]);
    await waitFor(
      'the log lines',
      async () => (await orunctl(['logs', a])).stdout.includes('line 3'),
      10_000,
    );
    const r = await orunctl(['logs', a, '--tail', '2']);
    expect(r).toMatchObject({ code: 0, stdout: 'line 2\nline 3\n' });
  });

  it('reconcile deploy, reconcile source and version', async () => {
    expect(await orunctl(['reconcile', 'deploy', a])).toMatchObject({
      code: 0,
      stdout: `deployment/${a} reconcile requested\n`,
    });
    expect(await orunctl(['reconcile', 'source'])).toMatchObject({
      code: 0,
      stdout: 'source reconcile requested\n',
    });
    const missing = await orunctl(['reconcile', 'deploy', `${prefix}-nope`]);
    expect(missing.code).toBe(1);
    const v = await orunctl(['version']);
    expect(v.stdout).toMatch(
      new RegExp(
        `^Client Version: \\d+\\.\\d+\\.\\d+\\S*\\nServer Version: \\d+\\.\\d+\\.\\d+\\S*\\nAPI Version: run.orcra.dev/v0alpha\\nNode: ${node}\\n`,
      ),
    );
  });

  it('get deploy -w prints the table, then new rows after a commit replaces a Deployment', async () => {
    const container = (row: string): string | undefined => / ([0-9a-f]{12}) /.exec(row)?.[1];
    let committed = false;
    let stopped = false;
    // -o wide shows the container: b's rows are printed until one shows the replacement, ready.
    const r = await orunctl(
      ['get', 'deploy', '-w', '-o', 'wide'],
      (out, stop) => {
        const lines = out.split('\n');
        if (!committed && lines.length >= 4) {
          committed = true;
          repo.write({ [`deployments/${b}.yaml`]: deploymentYaml(b, { COLOR: 'red' }) }).commit('b: red');
        }
        const old = container(lines[2] ?? '');
        const replaced = lines
          .slice(3)
          .some((l) => l.startsWith(`${b} `) && l.includes(' 1/1 ') && container(l) !== old);
        if (committed && !stopped && replaced) {
          stopped = true;
          stop();
        }
      },
      40_000,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^NAME {3,}READY {3}STATUS {4}RESTARTS {3}IMAGE {3,}PORTS {3,}AGE {3,}CONTAINER/,
    );
    expect(lines[2]).toMatch(new RegExp(`^${b} `));
    const after = lines.slice(3).filter((l) => l.startsWith(`${b} `));
    expect(after.length, r.stdout).toBeGreaterThanOrEqual(1);
    // Cells stay 3-space separated under the header's columns (a wider cell widens the table).
    const header = (lines[0] ?? '').split(/ {3,}/);
    for (const l of after) {
      expect(l).toMatch(
        new RegExp(
          `^${b} {3,}[01]/1 {3,}\\S+ {3,}\\d+ {3,}orun-test/busybox:1 {3,}<none> {3,}\\d+s {3,}[0-9a-f]{12} `,
        ),
      );
      expect(l.split(/ {3,}/)).toHaveLength(header.length);
    }
    // The new generation shows as Progressing until the controller has acted on it.
    expect(after[0], r.stdout).toMatch(/ {3}Progressing {3}/);
    // Start-first: the row names the new container as soon as it serves (the old one drains).
    const shown = container(after.at(-1) ?? '') ?? '<none>';
    const now = containersWithPrefix(prefix).find((c) => c.deployment === b && c.id.startsWith(shown));
    expect(now?.env).toContain('COLOR=red');
  });

  it('the socket is 0660, and a second agent on it is refused while the first keeps running', async () => {
    expect(statSync(agent.socket).mode & 0o777).toBe(0o660);
    const otherDir = mkdtempSync(join(tmpdir(), 'orun-ctl-data2-'));
    try {
      const second = new AgentProcess({
        repo: repo.bare,
        node,
        dataDir: otherDir,
        extraArgs: ['--socket', agent.socket],
      });
      // It must exit on its own; a second agent still running after 20 s is killed (and fails).
      const timer = setTimeout(() => void second.stop('SIGKILL'), 20_000);
      const exit = await second.exited;
      clearTimeout(timer);
      expect(exit.code, second.dump()).not.toBe(0);
      expect(second.stderr).toContain(`${agent.socket} is in use: another orun agent is answering on it`);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
    expect(agent.proc.exitCode).toBeNull();
    expect((await orunctl(['get', 'deploy', '-o', 'name'])).stdout).toBe(
      `deployment/${a}\ndeployment/${b}\n`,
    );
  });

  it('events, logs, /metrics and every orunctl output never show the secret', async () => {
    const ev = await orunctl(['events']);
    expect(ev.stdout).toMatch(/^LAST SEEN +TYPE +REASON +OBJECT +MESSAGE\n/);
    await orunctl(['describe', 'no', node]);
    await orunctl(['get', 'deploy', a, '-o', 'json']);
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(metrics).toContain('orun_deployment_ready');
    const logs = JSON.stringify(agent.lines) + agent.stderr;
    for (const [what, text] of [
      ['orunctl output', outputs.join('\n')],
      ['agent log', logs],
      ['/metrics', metrics],
    ] as const) {
      expect(text.includes(SECRET), `${what} shows the secret`).toBe(false);
    }
  });

  it('a stopped agent: a clear message naming the socket, exit 1', async () => {
    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const r = await orunctl(['get', 'deploy']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      new RegExp(
        `^error: cannot connect to the orun agent at ${agent.socket}: .*Is \`orun start\` running\\? Or point orunctl at another socket with --socket PATH or ORUN_SOCKET=PATH\\n$`,
      ),
    );
  });
});

// Operating a node the way Flux users do, end to end against dist/orun.js, real git and dockerd:
// a GitHub-signed push webhook triggers the poll (the poll interval is an hour), a wrong signature
// does not; suspend/resume by orunctl and by annotation, across an agent restart (neither
// reconciled nor pruned while suspended); `orun diff` of a work tree and of a ref.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sign } from '../../runtime/webhook/index.ts';
import {
  AgentProcess,
  condition,
  containersWithPrefix,
  deploymentYaml,
  removeContainers,
  uniquePrefix,
  waitFor,
  type LogLine,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { nodeManifest } from '../support/manifests.ts';
import { freePort } from '../support/net.ts';
import { orunctl } from '../support/orunctl.ts';
import { requireTestImage } from '../support/services.ts';

const NODE = existsSync(resolve('node_modules/.bin/node'))
  ? resolve('node_modules/.bin/node')
  : process.execPath;
const SECRET = 'e2e-webhook-secret';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function post(port: number, body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((res, rej) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/hook/github',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', ...headers },
      },
      (r) => {
        r.resume();
        r.on('end', () => res(r.statusCode ?? 0));
      },
    );
    req.on('error', (e) => rej(new Error(`POST /hook/github: ${e.message}`)));
    req.end(body);
  });
}

let delivery = 0;
function githubPush(port: number, sha: string, secret = SECRET): Promise<number> {
  const body = JSON.stringify({ ref: 'refs/heads/main', after: sha });
  return post(port, body, {
    'x-github-event': 'push',
    'x-github-delivery': `e2e-${++delivery}-${sha.slice(0, 7)}`,
    'x-hub-signature-256': sign('github', body, secret),
  });
}

async function metric(port: number, name: string): Promise<number> {
  const text = await new Promise<string>((res, rej) => {
    request({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (r) => {
      let b = '';
      r.setEncoding('utf8').on('data', (c: string) => (b += c));
      r.on('end', () => res(b));
    })
      .on('error', (e) => rej(new Error(`GET /metrics: ${e.message}`)))
      .end();
  });
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

function orunDiff(
  args: string[],
  socket: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(NODE, [resolve('dist/orun.js'), 'diff', ...args, '--socket', socket], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

/** The containers of Deployment `name` (`orun-<name>_<node>_<hash>`). */
const containersOf = (prefix: string, name: string) =>
  containersWithPrefix(prefix).filter((c) => c.name.startsWith(`orun-${name}_`));
const envOf = (prefix: string, name: string): string | undefined =>
  containersOf(prefix, name)
    .find((c) => c.running)
    ?.env.find((e) => e.startsWith('V='));

const indexOf = (lines: readonly LogLine[], pred: (l: LogLine) => boolean, from = 0): number =>
  lines.findIndex((l, i) => i >= from && pred(l));

describe('operating a node (e2e: dist/orun.js, real git and dockerd)', () => {
  it('webhook-triggered sync, suspend/resume across a restart, orun diff', async () => {
    requireTestImage();
    const prefix = uniquePrefix('op');
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => `${prefix}-${x}`) as [
      string,
      string,
      string,
      string,
    ];
    const node = `${prefix}-node`;
    const repo = new TestGitRepo('orun-operate-');
    const dataDir = mkdtempSync(join(tmpdir(), 'orun-data-operate-'));
    const secretFile = join(dataDir, 'webhook.secret');
    writeFileSync(secretFile, `${SECRET}\n`);
    cleanups.push(() => {
      removeContainers(prefix);
      repo.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    });
    // A notification receiver that fails its first request (the agent retries with back-off).
    const notices: Record<string, unknown>[] = [];
    let refused = 0;
    const sink = createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8').on('data', (d: string) => (text += d));
      req.on('end', () => {
        if (refused === 0) {
          refused++;
          return void res.writeHead(503).end();
        }
        notices.push(JSON.parse(text) as Record<string, unknown>);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    cleanups.push(() => void sink.close());
    const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/orun`;
    const hookPort = await freePort();
    const metricsPort = await freePort();
    const env = { ORUN_SOCKET: join(dataDir, 'orun.sock') };
    const annotated = deploymentYaml(c, { V: '1' }).replace(
      `  name: ${c}\n`,
      `  name: ${c}\n  annotations:\n    run.orcra.dev/suspend: "true"\n`,
    );
    repo
      .write({
        [`nodes/${node}.yaml`]: nodeManifest(node, repo.bare, { pollInterval: '1h' }),
        [`deployments/${a}.yaml`]: deploymentYaml(a, { V: '1' }),
        [`deployments/${b}.yaml`]: deploymentYaml(b, { V: '1' }),
        [`deployments/${c}.yaml`]: annotated,
      })
      .commit('three deployments, one suspended in Git');
    const start = (): AgentProcess =>
      new AgentProcess({
        repo: repo.bare,
        node,
        dataDir,
        pollInterval: '1h',
        extraArgs: [
          '--webhook-address',
          `127.0.0.1:${hookPort}`,
          '--webhook-secret-file',
          secretFile,
          '--metrics-address',
          `127.0.0.1:${metricsPort}`,
          '--notify',
          `generic=${sinkUrl}`,
        ],
      });
    let agent = start();
    cleanups.push(async () => void (await agent.stop('SIGKILL')));
    const ready = (name: string) => async () =>
      condition(await agent.object('deployments', name), 'Ready')?.status === 'True';
    await waitFor(
      'a and b Ready',
      async () => (await ready(a)()) && (await ready(b)()),
      90_000,
      () => agent.dump(),
    );

    // The annotation: c is never created, and shows as suspended.
    const cObj = await agent.object('deployments', c);
    expect(cObj?.status).toMatchObject({ suspended: true, suspendedBy: 'annotation' });
    expect(containersOf(prefix, c)).toEqual([]);

    // Webhook: a wrong signature is refused and polls nothing; a GitHub-signed push polls at once.
    const second = repo.write({ [`deployments/${a}.yaml`]: deploymentYaml(a, { V: '2' }) }).commit('a V=2');
    const polls = await metric(metricsPort, 'orun_git_polls_total');
    expect(await githubPush(hookPort, second, 'wrong-secret')).toBe(401);
    const accepted = agent.lines.length;
    expect(await githubPush(hookPort, second)).toBe(202);
    await waitFor(
      'a runs V=2',
      () => envOf(prefix, a) === 'V=2',
      60_000,
      () => agent.dump(),
    );
    expect(await metric(metricsPort, 'orun_git_polls_total')).toBe(polls + 1);
    // The rollout of a's new generation was announced (after one refused delivery, retried).
    await waitFor(
      'a RolloutSucceeded notification',
      () =>
        notices.some((n) => n['event'] === 'RolloutSucceeded' && n['name'] === a && n['generation'] === 2),
      30_000,
      () => `refused ${refused}, got ${JSON.stringify(notices)}\n${agent.dump(200)}`,
    );
    expect(notices.find((n) => n['name'] === a)).toMatchObject({
      node,
      kind: 'Deployment',
      severity: 'info',
    });
    // The accepted request's line (poll started) comes before the checkout of the pushed commit.
    const hookLine = indexOf(
      agent.lines,
      (l) => l.msg === 'webhook request' && l['reason'] === 'Accepted',
      accepted,
    );
    const checkout = indexOf(
      agent.lines,
      (l) => l.msg === 'fetched new revision' && String(l['revision']).endsWith(second),
    );
    expect(hookLine).toBeGreaterThanOrEqual(0);
    expect(checkout).toBeGreaterThan(hookLine);
    expect(
      agent.lines.find((l) => l.msg === 'webhook request' && l['reason'] === 'BadSignature')?.['poll'],
    ).toBeUndefined();

    // Suspend a and b; then a commit changes a and removes b.
    expect((await orunctl(['suspend', 'deploy', a], env)).stdout).toBe(`deployment/${a} suspended\n`);
    expect((await orunctl(['suspend', `deploy/${b}`], env)).code).toBe(0);
    const get = await orunctl(['get', 'deploy'], env);
    expect(get.stdout).toMatch(new RegExp(`${a} +\\S+ +Suspended`));
    const aID = containersOf(prefix, a)[0]?.id;
    const third = repo
      .write({
        [`deployments/${a}.yaml`]: deploymentYaml(a, { V: '3' }),
        [`deployments/${b}.yaml`]: undefined,
      })
      .commit('a V=3, b removed');
    expect(await githubPush(hookPort, third)).toBe(202);
    const applied = async () =>
      String((await agent.object('nodes', node))?.status?.revision ?? '').endsWith(third);
    await waitFor('the third commit applied', applied, 60_000, () => agent.dump());
    const skipped = (name: string, from: number) => () =>
      indexOf(
        agent.lines,
        (l) => l.msg === 'Suspended; not reconciled' && l['key'] === `Deployment/${name}`,
        from,
      ) >= 0;
    let mark = agent.lines.length;
    expect((await orunctl(['reconcile', 'deploy', a], env)).code).toBe(0);
    await waitFor('a skipped as suspended', skipped(a, mark), 30_000, () => agent.dump());
    expect(envOf(prefix, a)).toBe('V=2');
    expect(containersOf(prefix, b)[0]?.running).toBe(true);
    const describe = await orunctl(['describe', 'deploy', a], env);
    expect(describe.stdout).toMatch(/Suspended:\s+true/);
    expect(describe.stdout).toMatch(/Suspended By:\s+orunctl/);

    // Restart the agent: the suspension holds (same container, b still not pruned).
    await agent.stop('SIGTERM');
    agent = start();
    await waitFor('the agent back on the third commit', applied, 60_000, () => agent.dump());
    expect((await agent.object('deployments', a))?.status).toMatchObject({
      suspended: true,
      suspendedBy: 'orunctl',
    });
    mark = agent.lines.length;
    expect((await orunctl(['reconcile', 'deploy', a], env)).code).toBe(0);
    await waitFor('a skipped after the restart', skipped(a, mark), 30_000, () => agent.dump());
    expect(containersOf(prefix, a)[0]?.id).toBe(aID);
    expect(containersOf(prefix, b)[0]?.running).toBe(true);

    // Resume: a rolls to V=3, b is pruned.
    expect((await orunctl(['resume', 'deploy', a], env)).stdout).toBe(`deployment/${a} resumed\n`);
    expect((await orunctl(['resume', `deploy/${b}`], env)).code).toBe(0);
    await waitFor(
      'a runs V=3',
      () => envOf(prefix, a) === 'V=3',
      60_000,
      () => agent.dump(),
    );
    await waitFor(
      'b pruned',
      () => containersOf(prefix, b).length === 0,
      60_000,
      () => agent.dump(),
    );

    // The node as a whole.
    expect((await orunctl(['suspend', 'node'], env)).stdout).toBe(`node/${node} suspended\n`);
    expect((await orunctl(['get', 'no'], env)).stdout).toMatch(/SUSPENDED[\s\S]*True/);
    expect((await orunctl(['resume', 'node'], env)).code).toBe(0);

    // orun diff: a replaced, d created, c removed (it never ran: still "pruned" from the store).
    repo.write({
      [`deployments/${a}.yaml`]: deploymentYaml(a, { V: '4' }),
      [`deployments/${d}.yaml`]: deploymentYaml(d, { V: '1' }),
      [`deployments/${c}.yaml`]: undefined,
    });
    const diff = await orunDiff([repo.work], env.ORUN_SOCKET);
    expect(diff.stderr).toBe('');
    expect(diff.code).toBe(1);
    expect(diff.stdout.split('\n').filter((l) => /^\S/.test(l))).toEqual([
      `deployment/${a}   replaced`,
      `deployment/${c}   pruned`,
      `deployment/${d}   created`,
      expect.stringMatching(/^3 changes against main@sha1:/),
    ]);
    expect(diff.stdout).toContain('    spec.env.V: "3" → "4"');
    const same = await orunDiff([repo.work, '--ref', 'HEAD'], env.ORUN_SOCKET);
    expect(same).toMatchObject({ code: 0, stdout: 'No changes.\n' });
    const badRef = await orunDiff([repo.work, '--ref', 'no-such-branch'], env.ORUN_SOCKET);
    expect(badRef.code).toBe(2);
  }, 240_000);
});

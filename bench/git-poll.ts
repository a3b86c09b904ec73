/**
 * `node bench/git-poll.ts`: the cost of one poll that finds a new commit, in a repository of 50
 * Deployments (the agent's GitCliClient: fetch into refs/orun/fetched, then `ls-tree` + one
 * `cat-file --batch` of the manifest folders), against the previous way in the same run (the git
 * commands the simple-git client ran: list remotes, set-url, fetch, rev-parse FETCH_HEAD, then
 * checkout --force + clean -ffdx + rev-parse + log), and the idle poll (`git ls-remote`) for scale.
 * Each round pushes one commit, then times both ways on separate repository dirs, alternating
 * which goes first. GIT_POLL_ROUNDS (default 30) rounds; medians.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GitCliClient } from '../runtime/git/cli-client.ts';
import { RevisionFiles } from '../runtime/git/files.ts';
import { MANIFEST_DIRS } from '../runtime/manifests/load.ts';
import {
  deploymentYaml,
  fmt,
  machine,
  percentile,
  runBench,
  Workspace,
  writeSection,
} from './support/agent-bench.ts';

const ROUNDS = Number(process.env.GIT_POLL_ROUNDS ?? 30);
const run = promisify(execFile);
const ws = new Workspace();

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await run('git', args, { cwd, env: { ...process.env, LC_ALL: 'C' } })).stdout;
}

/** The previous client's sequence (without simple-git's own overhead, so a conservative baseline). */
async function oldPoll(dir: string, url: string): Promise<void> {
  const remotes = await git(dir, 'remote');
  const verb = remotes.split('\n').includes('origin') ? 'set-url' : 'add';
  await git(dir, 'remote', verb, 'origin', url);
  await git(dir, 'fetch', '--quiet', '--depth', '1', '--no-tags', 'origin', '+refs/heads/main');
  const sha = (await git(dir, 'rev-parse', 'FETCH_HEAD^{commit}')).trim();
  await git(dir, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--force', '--detach', sha);
  await git(dir, 'clean', '-ffdx', '--quiet');
  await git(dir, 'rev-parse', '--verify', '--quiet', 'HEAD^{commit}');
  await git(dir, 'log', '-1', '--format=%H%x00%an <%ae>%x00%cI%x00%B', 'HEAD');
}

const client = new GitCliClient();
const lsClient = new GitCliClient();
/**
 * The agent's poll after the tip moved: fetch, then the commit, trees and blobs through its
 * cat-file reader, started within the poll (an agent idle between commits has none running).
 */
async function newPoll(dir: string, url: string): Promise<number> {
  client.close();
  const head = await client.cloneOrFetch(url, 'main', dir);
  const files = new RevisionFiles(client, dir, head.sha);
  const entries = await files.list(MANIFEST_DIRS);
  const blobs = await files.read(entries.filter((e) => e.kind === 'file'));
  return blobs.size;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

runBench(
  async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 50; i++)
      files[`deployments/d${i}.yaml`] = deploymentYaml(`d${i}`, 20000 + i, { N: '0' });
    ws.repo.write(files).commit('50 deployments');
    const url = `file://${ws.repo.bare}`;
    const oldDir = join(ws.dataDir, 'old');
    const newDir = join(ws.dataDir, 'new');
    mkdirSync(oldDir, { recursive: true });
    await git(oldDir, 'init', '--quiet');
    await oldPoll(oldDir, url);
    await newPoll(newDir, url);
    const olds: number[] = [];
    const news: number[] = [];
    const lsr: number[] = [];
    let read = 0;
    for (let r = 0; r < ROUNDS; r++) {
      ws.repo
        .write({
          [`deployments/d${r % 50}.yaml`]: deploymentYaml(`d${r % 50}`, 20000 + (r % 50), {
            N: String(r + 1),
          }),
        })
        .commit(`round ${r}`);
      lsr.push(await timed(() => lsClient.lsRemote(url, 'main')));
      if (r % 2 === 0) {
        olds.push(await timed(() => oldPoll(oldDir, url)));
        news.push(await timed(async () => (read = await newPoll(newDir, url))));
      } else {
        news.push(await timed(async () => (read = await newPoll(newDir, url))));
        olds.push(await timed(() => oldPoll(oldDir, url)));
      }
    }
    const med = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        50,
      );
    const p95 = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        95,
      );
    const base = med(olds);
    const whole = news.map((n, i) => n + lsr[i]!);
    writeSection('git-poll', [
      '### One poll that finds a new commit (`bench/git-poll.ts`)',
      '',
      `A repository of 50 Deployments; each of ${ROUNDS} rounds pushes one commit changing one file, then`,
      'times, in alternating order on separate repository dirs: the agent now (GitCliClient: `git fetch --depth 1',
      '--no-auto-gc` into refs/orun/fetched, then the commit, the trees of the kind folders, the blob sizes and',
      `${read} files through one \`git cat-file --batch-command\`, started within the poll as after an idle spell),`,
      'and the previous way (the commands the simple-git client ran — list remotes, set-url, fetch, rev-parse',
      'FETCH_HEAD, checkout --force, clean -ffdx, rev-parse HEAD, log — here run with plain execFile, so without',
      "simple-git's own overhead: a conservative baseline). `git ls-remote` (the idle poll) for scale.",
      machine(),
      `Load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}.`,
      '',
      '| per poll with a new commit | p50 | p95 | ratio (p50) |',
      '|---|---:|---:|---:|',
      `| baseline: previous fetch + checkout (9 git commands) | ${fmt(base, 1)} ms | ${fmt(p95(olds), 1)} ms | 1.00× |`,
      `| **now: fetch + read from objects (2 git commands)** | ${fmt(med(news), 1)} ms | ${fmt(p95(news), 1)} ms | ${fmt(med(news) / base, 2)}× |`,
      `| the whole poll: \`ls-remote\`, then fetch + read | ${fmt(med(whole), 1)} ms | ${fmt(p95(whole), 1)} ms | ${fmt(med(whole) / base, 2)}× |`,
      `| idle poll: \`git ls-remote\` | ${fmt(med(lsr), 1)} ms | ${fmt(p95(lsr), 1)} ms | ${fmt(med(lsr) / base, 2)}× |`,
    ]);
  },
  () => {
    ws.cleanup();
    return Promise.resolve();
  },
);

// Issue 9 end to end: one broken file never stops or deletes anything, across restarts too.
// Real git (a bare repo as the remote), real dockerd, dist/orun.js as a child process.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AgentProcess,
  condition,
  containersWithPrefix,
  deploymentYaml,
  nodeYaml,
  removeContainers,
  uniquePrefix,
  waitFor,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { orunctl } from '../support/orunctl.ts';
import { requireTestImage } from '../support/services.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** One test's repo, data dir and node, removed after it; `start` runs an agent, `ready` waits for a Deployment. */
function scenario(tag: string) {
  requireTestImage();
  const prefix = uniquePrefix(tag);
  const repo = new TestGitRepo(`orun-${tag}-`);
  const dataDir = mkdtempSync(join(tmpdir(), `orun-data-${tag}-`));
  const node = `${prefix}-node`;
  cleanups.push(() => {
    removeContainers(prefix);
    repo.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const start = (env?: Record<string, string>): AgentProcess => {
    const agent = new AgentProcess({ repo: repo.bare, node, dataDir, ...(env === undefined ? {} : { env }) });
    cleanups.push(async () => {
      await agent.stop('SIGKILL');
    });
    return agent;
  };
  const ready = async (agent: AgentProcess, name: string): Promise<void> => {
    await waitFor(
      `Deployment ${name} Ready=True`,
      async () => condition(await agent.object('deployments', name), 'Ready')?.status === 'True',
      60_000,
      () => agent.dump(),
    );
  };
  return { prefix, repo, dataDir, node, start, ready };
}

describe('hardening (e2e: real git, real dockerd, dist/orun.js)', () => {
  it('a Deployment without spec blocks nothing, is named on the Node, and a restart while it is broken prunes nothing', async () => {
    const { prefix, repo, node, start, ready } = scenario('hard');
    const [a, b] = [`${prefix}-a`, `${prefix}-b`];
    repo
      .write({
        [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
        [`deployments/${a}.yaml`]: deploymentYaml(a, { V: '1' }),
      })
      .commit('one deployment');
    const first = start();
    await ready(first, a);
    const running = containersWithPrefix(prefix);

    // Issue 9 bug 1: a's file loses its spec; b is added in the same commit and must still run.
    const brokenA = `deployments/${a}.yaml`;
    repo
      .write({
        [brokenA]: `apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: ${a}\n`,
        [`deployments/${b}.yaml`]: deploymentYaml(b),
      })
      .commit('a loses its spec, b arrives');
    await ready(first, b);
    const nodeObj = await waitFor('Node ManifestsValid=False', async () => {
      const n = await first.object('nodes', node);
      return condition(n, 'ManifestsValid')?.status === 'False' ? n : undefined;
    });
    expect(condition(nodeObj, 'ManifestsValid')?.message).toContain(`in ${brokenA} at`);
    expect(nodeObj.status?.sourceErrors).toMatchObject([{ file: brokenA, path: 'spec' }]);
    expect(containersWithPrefix(prefix).find((c) => c.deployment === a)).toEqual(running[0]);

    // Issue 9 bug 2: restart while a's file is broken: a is neither pruned nor restarted.
    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const second = start();
    await ready(second, b);
    await ready(second, a);
    await waitFor('the second agent applied the broken revision', () =>
      second.lines.some((l) => l.msg === 'applied revision'),
    );
    expect(second.lines.filter((l) => String(l.msg).includes('Pruned') || l.reason === 'Pruned')).toEqual([]);
    expect(containersWithPrefix(prefix).find((c) => c.deployment === a)).toEqual(running[0]);

    // Deleting the file for real does prune it.
    repo.write({ [brokenA]: undefined }).commit('remove a');
    await waitFor(
      'a pruned once its file is deleted',
      () => !containersWithPrefix(prefix).some((c) => c.deployment === a),
      60_000,
      () => second.dump(),
    );
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  // Issue 9: a restart while Git is unreachable left the controllers unstarted and the Node unwritten.
  it('a restart while Git is unreachable runs the last good objects: the Node says why, nothing is restarted, and the next commit applies when Git returns', async () => {
    const { prefix, repo, node, start, ready } = scenario('down');
    const [a, b] = [`${prefix}-a`, `${prefix}-b`];
    repo
      .write({
        [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
        [`deployments/${a}.yaml`]: deploymentYaml(a, { V: '1' }),
      })
      .commit('one deployment');
    const first = start();
    await ready(first, a);
    const running = containersWithPrefix(prefix);
    expect(running).toHaveLength(1);
    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    repo.hideRemote();
    const second = start();
    const nodeObj = await waitFor(
      'the Node says Git is unreachable and the last good objects run',
      async () => {
        const n = await second.object('nodes', node);
        return condition(n, 'ManifestsValid')?.reason === 'LastGoodRestored' &&
          condition(n, 'GitSynced')?.status === 'False'
          ? n
          : undefined;
      },
      60_000,
      () => second.dump(),
    );
    expect(condition(nodeObj, 'Ready')).toMatchObject({ status: 'False', reason: 'GitOperationFailed' });
    expect(condition(nodeObj, 'ManifestsValid')?.message).toContain(
      'running the last good objects saved at main@sha1:',
    );
    await ready(second, a);
    const get = await orunctl(['get', 'no'], { ORUN_SOCKET: second.socket });
    expect(get.stdout.split('\n')[1]).toMatch(/ GitOperationFailed /);
    // Adopted, not restarted; nothing pruned.
    expect(containersWithPrefix(prefix)).toEqual(running);
    expect(second.lines.filter((l) => l.reason === 'Pruned' || String(l.msg).includes('pruned'))).toEqual([]);

    // Git is back: the next commit applies.
    repo.restoreRemote();
    repo.write({ [`deployments/${b}.yaml`]: deploymentYaml(b) }).commit('b arrives');
    await ready(second, b);
    await waitFor('the Node says GitSynced=True and ManifestsValid=True', async () => {
      const n = await second.object('nodes', node);
      return (
        condition(n, 'GitSynced')?.status === 'True' && condition(n, 'ManifestsValid')?.status === 'True'
      );
    });
    expect(containersWithPrefix(prefix).find((c) => c.deployment === a)).toEqual(running[0]);
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  // The restored path's third cause: the tip is fetched but its objects cannot be read. A `git` on
  // the agent's PATH answers like a git without `cat-file --batch-command` (so each read is its own
  // process: `log` for commits, `ls-tree`, then `cat-file --batch` for the blobs) and fails the
  // blob reads while a flag file exists; everything else goes to the real git.
  it('a restart while the tip cannot be read runs the last good objects: nothing restarted; once it reads, it applies', async () => {
    const { prefix, repo, dataDir, node, start, ready } = scenario('unread');
    const a = `${prefix}-a`;
    const bin = join(dataDir, 'test-bin');
    const flag = join(dataDir, 'fail-cat-file');
    const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'git'),
      [
        '#!/bin/sh',
        'case " $* " in',
        `  *" cat-file --batch-command "*) echo "error: unknown option 'batch-command'" >&2; echo 'usage: git cat-file' >&2; exit 129 ;;`,
        `  *" cat-file --batch "*) if [ -e '${flag}' ]; then echo 'fatal: injected read failure' >&2; exit 128; fi ;;`,
        'esac',
        `exec '${realGit}' "$@"`,
        '',
      ].join('\n'),
    );
    chmodSync(join(bin, 'git'), 0o755);
    const env = { PATH: `${bin}:${process.env.PATH ?? ''}` };
    repo
      .write({
        [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
        [`deployments/${a}.yaml`]: deploymentYaml(a, { V: '1' }),
      })
      .commit('one deployment');
    const first = start(env);
    await ready(first, a);
    const running = containersWithPrefix(prefix);
    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    repo.write({ [`deployments/${a}.yaml`]: deploymentYaml(a, { V: '2' }) }).commit('a: V=2');
    writeFileSync(flag, '');
    const second = start(env);
    const nodeObj = await waitFor(
      'the Node says the tip could not be loaded and the last good objects run',
      async () => {
        const n = await second.object('nodes', node);
        return condition(n, 'ManifestsValid')?.reason === 'LastGoodRestored' ? n : undefined;
      },
      60_000,
      () => second.dump(),
    );
    expect(condition(nodeObj, 'ManifestsValid')?.message).toMatch(
      /running the last good objects saved at main@sha1:\w+ by a previous run: revision main@sha1:\w+ could not be loaded \(.*injected read failure/,
    );
    await ready(second, a);
    expect(containersWithPrefix(prefix)).toEqual(running);

    // The objects read again: the tip applies (a rolls to V=2) and the Node is valid again.
    rmSync(flag);
    await waitFor(
      'a runs V=2',
      () =>
        containersWithPrefix(prefix).some((c) => c.deployment === a && c.env.includes('V=2') && c.running),
      60_000,
      () => second.dump(),
    );
    await waitFor('ManifestsValid=True', async () => {
      const n = await second.object('nodes', node);
      return condition(n, 'ManifestsValid')?.status === 'True';
    });
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  // Issue 9 bug 11: `orun start` had no way to turn signed-commit verification on.
  it('--allowed-signers: an unsigned tip is not applied and is reported on the Node; a signed one is; a restart with an unsigned tip runs the last good objects', async () => {
    requireTestImage();
    const prefix = uniquePrefix('sign');
    const repo = new TestGitRepo('orun-sign-');
    const dataDir = mkdtempSync(join(tmpdir(), 'orun-data-sign-'));
    const node = `${prefix}-node`;
    const a = `${prefix}-a`;
    cleanups.push(() => {
      removeContainers(prefix);
      repo.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const key = join(repo.root, 'signer');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'signer', '-f', key]);
    const allowed = join(repo.root, 'allowed_signers');
    writeFileSync(allowed, `test@orun.invalid ${readFileSync(`${key}.pub`, 'utf8')}`);
    repo
      .write({
        [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
        [`deployments/${a}.yaml`]: deploymentYaml(a),
      })
      .commit('unsigned');
    const agent = new AgentProcess({
      repo: repo.bare,
      node,
      dataDir,
      extraArgs: ['--allowed-signers', allowed],
    });
    cleanups.push(async () => {
      await agent.stop('SIGKILL');
    });
    await waitFor(
      'refused: the signature error is logged',
      () => agent.lines.some((l) => /InvalidCommitSignature|signature/i.test(JSON.stringify(l))),
      30_000,
      () => agent.dump(),
    );
    expect(containersWithPrefix(prefix)).toEqual([]);

    const signing: [string, string][] = [
      ['gpg.format', 'ssh'],
      ['user.signingkey', key],
      ['commit.gpgsign', 'true'],
    ];
    for (const [k, v] of signing) execFileSync('git', ['-C', repo.work, 'config', k, v]);
    repo.commit('signed');
    await waitFor(
      `Deployment ${a} Ready=True after the signed commit`,
      async () => condition(await agent.object('deployments', a), 'Ready')?.status === 'True',
      60_000,
      () => agent.dump(),
    );
    const n = await agent.object('nodes', node);
    expect(condition(n, 'GitSynced')?.status).toBe('True');
    const running = containersWithPrefix(prefix);
    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    // An unsigned tip pushed while the agent is down, then a restart: the refused tip is not
    // applied, the last good objects run (the container adopted, not restarted) and the Node says why.
    execFileSync('git', ['-C', repo.work, 'config', 'commit.gpgsign', 'false']);
    repo.write({ [`deployments/${a}.yaml`]: deploymentYaml(a, { V: 'unsigned' }) }).commit('unsigned change');
    const again = new AgentProcess({
      repo: repo.bare,
      node,
      dataDir,
      extraArgs: ['--allowed-signers', allowed],
    });
    cleanups.push(async () => {
      await again.stop('SIGKILL');
    });
    const refused = await waitFor(
      'the Node says InvalidCommitSignature and runs the last good objects',
      async () => {
        const n = await again.object('nodes', node);
        return condition(n, 'GitSynced')?.reason === 'InvalidCommitSignature' &&
          condition(n, 'ManifestsValid')?.reason === 'LastGoodRestored'
          ? n
          : undefined;
      },
      60_000,
      () => again.dump(),
    );
    expect(condition(refused, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidCommitSignature' });
    await waitFor(
      `Deployment ${a} Ready=True after the restart`,
      async () => condition(await again.object('deployments', a), 'Ready')?.status === 'True',
      60_000,
      () => again.dump(),
    );
    expect(containersWithPrefix(prefix)).toEqual(running);
    expect(await again.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  // Issue 9 item 7: signed commits as a Node setting, bootstrapped so a commit cannot lower the trust.
  it('Node spec.verifyCommits: trust from the last applied Node, kept across a restart; unsigned or wrongly signed commits cannot turn it off; a trusted one can', async () => {
    requireTestImage();
    const prefix = uniquePrefix('nsign');
    const repo = new TestGitRepo('orun-nsign-');
    const dataDir = mkdtempSync(join(tmpdir(), 'orun-data-nsign-'));
    const node = `${prefix}-node`;
    const [a, b, c] = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    cleanups.push(() => {
      removeContainers(prefix);
      repo.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const keygen = (who: string): string => {
      const key = join(repo.root, who);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', who, '-f', key]);
      return key;
    };
    const alice = keygen('alice');
    const mallory = keygen('mallory');
    const aliceLine = `alice@orun.invalid ${readFileSync(`${alice}.pub`, 'utf8').trim()}`;
    const verifying = `${nodeYaml(node, repo.bare)}  verifyCommits:\n    allowedSigners:\n      - ${JSON.stringify(aliceLine)}\n`;
    const commit = (message: string, key?: string): string => {
      const git = (...args: string[]) => execFileSync('git', ['-C', repo.work, ...args]);
      if (key === undefined) git('config', 'commit.gpgsign', 'false');
      else {
        git('config', 'gpg.format', 'ssh');
        git('config', 'user.signingkey', key);
        git('config', 'commit.gpgsign', 'true');
      }
      return repo.commit(message);
    };
    const refused = async (agent: AgentProcess, what: string): Promise<void> => {
      await waitFor(
        `${what}: refused, GitSynced=False/InvalidCommitSignature`,
        async () => {
          const g = condition(await agent.object('nodes', node), 'GitSynced');
          return g?.status === 'False' && g.reason === 'InvalidCommitSignature';
        },
        60_000,
        () => agent.dump(),
      );
      expect(containersWithPrefix(prefix).map((x) => x.deployment)).toEqual([a]);
    };
    const ready = (agent: AgentProcess, name: string) =>
      waitFor(
        `Deployment ${name} Ready=True`,
        async () => condition(await agent.object('deployments', name), 'Ready')?.status === 'True',
        60_000,
        () => agent.dump(),
      );

    // The first commit is trusted as it is (no trust on disk yet) and turns verification on.
    repo.write({ [`nodes/${node}.yaml`]: verifying, [`deployments/${a}.yaml`]: deploymentYaml(a) });
    commit('verify commits signed by alice (unsigned: trust on first use)');
    let agent = new AgentProcess({ repo: repo.bare, node, dataDir });
    cleanups.push(async () => {
      await agent.stop('SIGKILL');
    });
    await ready(agent, a);
    const aContainer = containersWithPrefix(prefix)[0]?.id;

    // An unsigned commit that also drops verifyCommits is not applied: it is verified against
    // the signers in force, never against its own Node manifest.
    repo.write({
      [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
      [`deployments/${b}.yaml`]: deploymentYaml(b),
    });
    commit('unsigned: turn verification off and add b');
    await refused(agent, 'unsigned');
    commit('signed by a key the Node does not list', mallory);
    await refused(agent, "mallory's signature");

    // A restart keeps the trust (state/allowed_signers), and restarts nothing. (Until a commit
    // applies, a restarted agent does not start its controllers: the refusal is in its log.)
    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    agent = new AgentProcess({ repo: repo.bare, node, dataDir });
    await waitFor(
      'after a restart: refused against the signers in force',
      () =>
        agent.lines.some(
          (l) => l['code'] === 'GitSignatureInvalid' && String(l['err']).includes('state/allowed_signers'),
        ),
      60_000,
      () => agent.dump(),
    );
    expect(containersWithPrefix(prefix).map((x) => x.id)).toEqual([aContainer]);

    // alice signs: applied; then alice turns verification off, and an unsigned commit applies.
    repo.write({ [`nodes/${node}.yaml`]: verifying });
    commit('alice: add b, keep verification', alice);
    await ready(agent, b);
    repo.write({ [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare) });
    const off = commit('alice: verification off', alice);
    // Only the tip is verified (as Flux does): wait until alice's commit is the one applied.
    await waitFor(
      "alice's commit applied",
      async () => (await agent.object('nodes', node))?.status?.revision?.endsWith(off) === true,
      60_000,
      () => agent.dump(),
    );
    repo.write({ [`deployments/${c}.yaml`]: deploymentYaml(c) });
    commit('unsigned, after alice turned verification off');
    await ready(agent, c);
    expect(condition(await agent.object('nodes', node), 'GitSynced')?.status).toBe('True');
    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  // Issue 9 item 8: Stalled (not "Creating" forever, not a retry storm) for errors no retry fixes.
  it('errors no retry fixes, from the real engine: no such user → ContainerCannotRun, 1Mi memory → ContainerSpecInvalid; Stalled, terminal, retried at once when the spec changes', async () => {
    requireTestImage();
    const prefix = uniquePrefix('perm');
    const repo = new TestGitRepo('orun-perm-');
    const dataDir = mkdtempSync(join(tmpdir(), 'orun-data-perm-'));
    const node = `${prefix}-node`;
    const [a, b, c] = [`${prefix}-nouser`, `${prefix}-tiny`, `${prefix}-ok`];
    cleanups.push(() => {
      removeContainers(prefix);
      repo.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const spec = (name: string, extra: string): string =>
      `apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  image: orun-test/busybox:1\n${extra}`;
    repo
      .write({
        [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
        [`deployments/${a}.yaml`]: spec(a, '  user: nosuchuser\n'),
        [`deployments/${b}.yaml`]: spec(b, '  resources:\n    limits:\n      memory: 1Mi\n'),
        [`deployments/${c}.yaml`]: deploymentYaml(c),
      })
      .commit('two specs the engine refuses, one good');
    const agent = new AgentProcess({ repo: repo.bare, node, dataDir });
    cleanups.push(async () => {
      await agent.stop('SIGKILL');
    });
    const stalled = (name: string) =>
      waitFor(
        `${name} Stalled`,
        async () => {
          const s = condition(await agent.object('deployments', name), 'Stalled');
          return s?.status === 'True' ? s : undefined;
        },
        60_000,
        () => agent.dump(),
      );
    const sa = await stalled(a);
    const sb = await stalled(b);
    expect([sa.reason, sb.reason]).toEqual(['ContainerCannotRun', 'ContainerSpecInvalid']);
    expect(sa.message).toMatch(/unable to find user nosuchuser/);
    expect(sb.message).toMatch(/Minimum memory limit/);
    await waitFor(
      `${c} Ready`,
      async () => condition(await agent.object('deployments', c), 'Ready')?.status === 'True',
      60_000,
      () => agent.dump(),
    );
    // Terminal: logged once each, never requeued with backoff.
    const terminal = agent.lines.filter((l) => l.msg === 'Reconciler error is terminal; not requeued');
    expect(terminal.map((l) => l['name']).sort()).toEqual([a, b].sort());

    repo.write({ [`deployments/${a}.yaml`]: spec(a, '') }).commit("a: the image's own user");
    await waitFor(
      `${a} Ready after the spec changed`,
      async () => condition(await agent.object('deployments', a), 'Ready')?.status === 'True',
      60_000,
      () => agent.dump(),
    );
    expect(condition(await agent.object('deployments', a), 'Stalled')).toBeUndefined();
    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});

/**
 * The single executable on a node without Node.js (the systemd node container): orun, orunctl
 * and orch run from one file (`orch up -d` re-runs it as the supervisor); the agent under systemd logs JSON lines that journald files by
 * priority (`journalctl -p err`) and decodes a large manifest in a worker thread (its code an
 * asset of the executable); and an agent whose --node has no nodes/<name>.yaml refuses to
 * reconcile and names the nodes that exist, in its status and its log.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/agent.ts';
import { ensureSea } from '../support/sea.ts';
import { keygen } from '../support/sshd.ts';
import { docker, startNode, type NodeContainer } from './support.ts';

let root: string;
let node: NodeContainer;

beforeAll(async () => {
  const sea = ensureSea();
  root = mkdtempSync(join(tmpdir(), 'orun-sea-'));
  keygen(join(root, 'id'), 'orun-sea-e2e');
  node = await startNode({ authorizedKey: readFileSync(join(root, 'id.pub'), 'utf8').trim() });
  await docker('cp', sea, `${node.name}:/usr/local/bin/orun`);
  await node.exec('sh', '-c', 'cd /usr/local/bin && ln -s orun orunctl && ln -s orun orch');
});

afterAll(async () => {
  await node?.remove();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('the single executable on a node without Node.js', () => {
  it('runs orun, orunctl and orch from one file', async () => {
    expect((await node.status('sh', '-c', 'command -v node')).code).not.toBe(0);
    const version = (await node.exec('orun', '--version')).trim();
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(await node.exec('orunctl', 'version', '--client')).toBe(`Client Version: ${version}\n`);
    expect(await node.exec('orun', 'orunctl', 'version', '--client')).toBe(`Client Version: ${version}\n`);
    await node.exec('sh', '-c', 'printf "SERVICE web\\nFROM nginx\\nPUBLISH 8080:80\\n" > /tmp/Orchfile');
    const validated = await node.status('sh', '-c', 'orch validate /tmp/Orchfile 2>&1');
    expect(validated).toEqual({ code: 0, stdout: 'valid\n' });
    // orch up -d re-runs the executable as its supervisor: the executable's own start-up flags
    // must not reach the supervisor's command line (it exited 2 on `--max-opt=1`).
    await node.exec(
      'sh',
      '-c',
      'mkdir -p /tmp/p && printf "SERVICE ticker\\nRUN sleep 300\\n" > /tmp/p/Orchfile',
    );
    const up = await node.status('sh', '-c', 'cd /tmp/p && orch up -d -p seaup 2>&1');
    expect(up.code, up.stdout).toBe(0);
    const status = await node.status('sh', '-c', 'cd /tmp/p && orch status -p seaup 2>&1');
    expect(status.stdout).toMatch(/^ticker +.*running/m);
    const down = await node.status('sh', '-c', 'cd /tmp/p && orch down -p seaup 2>&1');
    expect(down.code, down.stdout).toBe(0);
    expect((await node.status('pgrep', '-f', 'sleep 300')).code).toBe(1);
  });

  it('an unknown --node refuses to reconcile; journalctl -p err shows only its JSON error lines', async () => {
    await node.exec(
      'sh',
      '-c',
      [
        'git init -q -b main /tmp/seed && mkdir -p /tmp/seed/nodes /tmp/seed/deployments',
        'printf "apiVersion: run.orcra.dev/v0alpha\\nkind: Node\\nmetadata: {name: edge-1}\\nspec: {host: h, gitRepo: /srv/m.git}\\n" > /tmp/seed/nodes/edge-1.yaml',
        'printf "apiVersion: run.orcra.dev/v0alpha\\nkind: Deployment\\nmetadata: {name: web}\\nspec: {image: orun-test/busybox:1}\\n" > /tmp/seed/deployments/web.yaml',
        // Over 8 KiB: decoded in a worker thread, whose code is an asset of the executable.
        `{ printf "apiVersion: run.orcra.dev/v0alpha\\nkind: Deployment\\nmetadata: {name: big}\\nspec:\\n  image: orun-test/busybox:1\\n  env:\\n"; for i in $(seq 1000); do echo "    K$i: v"; done; } > /tmp/seed/deployments/big.yaml`,
        'git -C /tmp/seed add -A && git -C /tmp/seed -c user.name=t -c user.email=t@t commit -qm init',
        'git clone -q --bare /tmp/seed /srv/m.git',
        // A typo: edge-l for edge-1. No Docker on this node: refusing must come before any engine call.
        'systemd-run --quiet --unit orun-guard /usr/local/bin/orun start --repo /srv/m.git --node edge-l --data-dir /var/lib/orun-guard --ingress none --log-level debug',
      ].join(' && '),
    );
    const socket = ['--socket', '/var/lib/orun-guard/orun.sock'];
    const ready = await waitFor(
      'the Node edge-l with Ready=False/UnknownNode',
      async () => {
        const r = await node.status('orunctl', ...socket, 'get', 'node', 'edge-l', '-o', 'json');
        if (r.code !== 0) return undefined;
        const obj = JSON.parse(r.stdout) as {
          status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
        };
        const c = obj.status?.conditions?.find((x) => x.type === 'Ready');
        return c?.reason === 'UnknownNode' ? c : undefined;
      },
      60_000,
    );
    expect(ready.status).toBe('False');
    expect(ready.message).toContain("the repository's nodes are edge-1 (did you mean 'edge-1'?)");
    // Nothing was reconciled: the Deployment is not in the agent's store.
    const deploys = await node.status('sh', '-c', `orunctl ${socket.join(' ')} get deploy 2>&1`);
    expect(deploys.stdout).toBe('No resources found.\n');

    // The agent's own lines (`-u` also matches systemd's "Started …" about the unit).
    const journal = async (...args: string[]) =>
      (await node.exec('journalctl', '_SYSTEMD_UNIT=orun-guard.service', '-o', 'cat', '--no-pager', ...args))
        .trim()
        .split('\n');
    const all = await journal();
    const errors = await journal('-p', 'err');
    const parsed = errors.map((l) => JSON.parse(l) as { level: string; msg: string; knownNodes?: string[] });
    expect(parsed.every((l) => l.level === 'error' || l.level === 'fatal')).toBe(true);
    expect(parsed.find((l) => l.msg.includes('refusing to reconcile'))?.knownNodes).toEqual(['edge-1']);
    // The filter did filter: the unit wrote info lines too, JSON without the <N> prefix.
    expect(all.length).toBeGreaterThan(errors.length);
    expect(all.some((l) => (JSON.parse(l) as { level: string }).level === 'info')).toBe(true);
    // The large manifest was decoded in the worker thread (from the embedded asset), not on the main one.
    const lines = all.map((l) => JSON.parse(l) as { msg: string; decodedInWorker?: number; files?: number });
    expect(lines.find((l) => l.msg === 'decoded revision')).toMatchObject({ files: 3, decodedInWorker: 1 });
    expect(lines.filter((l) => l.msg.includes('decode worker failed'))).toEqual([]);
    await node.exec('systemctl', 'stop', 'orun-guard');
  });
});

/**
 * Deployments fit for real applications, end to end (dist/orun.js, real dockerd, images from
 * Debian's packages): Deployments reach each other by name on the node network; an internal port
 * is not published on the host; tcp and exec probes gate readiness; `command`/`args` override the
 * image's; a paused container is unpaused; a missing hostPath is created.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentProcess,
  condition,
  containerNameOf,
  nodeYaml,
  removeContainers,
  uniquePrefix,
  waitFor,
  type ApiObjectView,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { deploymentEvents, deploymentManifest } from '../support/manifests.ts';
import { freePort } from '../support/net.ts';
import { APP_IMAGES, requireAppImage } from '../support/services.ts';

/** Resolves with the connect error code, or 'connected'. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 2000 });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('timeout', () => {
      s.destroy();
      resolve('timeout');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

function inspect(name: string): {
  State: { Status: string; StartedAt: string };
  Config: { Entrypoint: string[] | null; Cmd: string[] | null };
  HostConfig: { PortBindings: Record<string, unknown> | null };
  NetworkSettings: { Networks: Record<string, { IPAddress: string; Aliases: string[] | null }> };
} {
  const out = execFileSync('docker', ['inspect', '--type', 'container', name], { encoding: 'utf8' });
  return (JSON.parse(out) as ReturnType<typeof inspect>[])[0] as ReturnType<typeof inspect>;
}

describe('Deployments for real applications (e2e: dist/orun.js, dockerd, Debian app images)', () => {
  const prefix = uniquePrefix('wl');
  const node = `${prefix}-node`;
  const web = `${prefix}-web`;
  const client = `${prefix}-client`;
  const slowTcp = `${prefix}-tcp`;
  const slowExec = `${prefix}-exec`;
  let repo: TestGitRepo;
  let dataDir = '';
  let agent: AgentProcess;
  let webPort = 0;
  let slowPort = 0;
  let hostDir = '';

  const dep = (name: string): Promise<ApiObjectView | undefined> => agent.object('deployments', name);
  const ready = (name: string, timeoutMs = 60_000): Promise<ApiObjectView> =>
    waitFor(
      `${name} Ready=True`,
      async () => {
        const d = await dep(name);
        return condition(d, 'Ready')?.status === 'True' ? d : undefined;
      },
      timeoutMs,
      () => agent.dump(),
    );

  beforeAll(async () => {
    requireAppImage(APP_IMAGES.python);
    [webPort, slowPort] = await Promise.all([freePort(), freePort()]);
    hostDir = mkdtempSync(join(tmpdir(), 'orun-wl-host-'));
    const serve = (port: number) => ['python3', '-m', 'http.server', String(port)];
    repo = new TestGitRepo('orun-wl-');
    repo
      .write({
        [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
        // An internal port only (no host `port`), on a port number free on this host.
        [`deployments/${web}.yaml`]: deploymentManifest(web, {
          image: APP_IMAGES.python,
          args: serve(webPort),
          ports: [{ containerPort: webPort }],
          volumes: [{ hostPath: join(hostDir, 'made', 'by', 'orun'), containerPath: '/data' }],
          health: { readiness: { http: `localhost:${webPort}/health`, periodSeconds: 1 } },
        }),
        // Ready only when it can fetch web's page by the Deployment's name.
        [`deployments/${client}.yaml`]: deploymentManifest(client, {
          image: APP_IMAGES.python,
          command: ['sleep'],
          args: ['infinity'],
          health: {
            readiness: {
              exec: {
                command: [
                  'python3',
                  '-c',
                  `import urllib.request; urllib.request.urlopen('http://${web}:${webPort}/health', timeout=1)`,
                ],
              },
              periodSeconds: 1,
              timeoutSeconds: 3,
            },
          },
        }),
        // Opens its port 2 s after start: a tcp probe and an exec probe must wait for it.
        [`deployments/${slowTcp}.yaml`]: deploymentManifest(slowTcp, {
          image: APP_IMAGES.python,
          command: ['sh', '-c', `sleep 2; exec python3 -m http.server ${slowPort}`],
          health: { readiness: { tcp: `localhost:${slowPort}`, periodSeconds: 1 } },
        }),
        [`deployments/${slowExec}.yaml`]: deploymentManifest(slowExec, {
          image: APP_IMAGES.python,
          command: ['sh', '-c', `sleep 2; exec python3 -m http.server ${slowPort}`],
          health: {
            readiness: { exec: { command: ['nc', '-z', 'localhost', String(slowPort)] }, periodSeconds: 1 },
          },
        }),
      })
      .commit('workloads');
    dataDir = mkdtempSync(join(tmpdir(), 'orun-wl-'));
    agent = new AgentProcess({ repo: repo.bare, node, dataDir });
  });

  afterAll(async () => {
    await agent?.stop('SIGKILL');
    removeContainers(prefix);
    repo?.cleanup();
    for (const d of [dataDir, hostDir]) if (d !== '') rmSync(d, { recursive: true, force: true });
  });

  it('two Deployments talk by name on the node network; the alias is the Deployment name', async () => {
    await ready(web);
    await ready(client);
    const c = inspect(containerNameOf(client) ?? client);
    const net = c.NetworkSettings.Networks[`orun-net-${node}`];
    expect(net?.Aliases).toContain(client);
    expect((await dep(web))?.status?.ip).toBe(
      inspect(containerNameOf(web) ?? web).NetworkSettings.Networks[`orun-net-${node}`]?.IPAddress,
    );
  });

  it("an internal-only port is never published: not reachable on the host's addresses, only on the network", async () => {
    const d = await ready(web);
    const w = inspect(containerNameOf(web) ?? web);
    expect(Object.values(w.HostConfig.PortBindings ?? {}).flat()).toEqual([]);
    const hostAddrs = [
      '127.0.0.1',
      ...Object.values(networkInterfaces())
        .flat()
        .filter((i) => i !== undefined && i.family === 'IPv4' && !i.internal)
        .map((i) => i?.address ?? ''),
    ];
    for (const a of hostAddrs) expect(await tryConnect(a, webPort), a).toBe('ECONNREFUSED');
    expect(await tryConnect(String(d.status?.ip), webPort)).toBe('connected');
  });

  it('a missing hostPath (type DirectoryOrCreate, the default) is created', async () => {
    await ready(web);
    expect(existsSync(join(hostDir, 'made', 'by', 'orun'))).toBe(true);
  });

  it.each([
    ['tcp', () => slowTcp],
    ['exec', () => slowExec],
  ])(
    'a %s probe gates readiness: a container that opens its port after 2 s is not Ready before then',
    async (_kind, name) => {
      const d = await ready(name());
      const c = inspect(containerNameOf(name()) ?? name());
      const started = Date.parse(c.State.StartedAt);
      const cond = (d.status?.conditions ?? []).find((x) => x.type === 'Ready') as
        { lastTransitionTime?: string } | undefined;
      const readyAt = Date.parse(cond?.lastTransitionTime ?? '');
      // Condition times have whole seconds (metav1.Time), StartedAt has nanoseconds: compare
      // against the whole second in which the port could first be open.
      expect(readyAt).toBeGreaterThanOrEqual(Math.floor((started + 2000) / 1000) * 1000);
      // command replaced the image's CMD ["python3","-m","http.server","8000"].
      expect(c.Config.Entrypoint).toEqual(['sh', '-c', `sleep 2; exec python3 -m http.server ${slowPort}`]);
      expect(c.Config.Cmd).toBeNull();
    },
  );

  it('a container paused by hand is unpaused', async () => {
    await ready(web);
    const name = containerNameOf(web) ?? web;
    const id = inspect(name);
    execFileSync('docker', ['pause', name]);
    await waitFor(
      'unpaused by the agent',
      async () =>
        inspect(name).State.Status === 'running' &&
        (await deploymentEvents(agent.socket, web)).some((e) => e.reason === 'Unpaused'),
      60_000,
      () => agent.dump(),
    );
    expect(inspect(name).State.StartedAt).toBe(id.State.StartedAt); // thawed, not restarted
  });
});

/**
 * `orun start` with its Caddy ingress, end to end: the built agent (dist/orun.js) as a child
 * process against a bare Git repo, the real dockerd, the supervised real caddy on free loopback
 * ports and pebble (+ challtestsrv resolving every name to 127.0.0.1) as the ACME CA. Everything
 * is observed from outside, as a user would: the local API (ApiClient), HTTP(S) requests to
 * 127.0.0.1 with Host/SNI, and the caddy child's pid.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { ApiClient } from '../../runtime/api/client.ts';
import { resourceByPlural, type ResourceType } from '../../runtime/api/resources.ts';
import {
  AgentProcess,
  removeContainers,
  uniquePrefix,
  waitFor,
  type AgentStartOptions,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { freePort, requirePebble, startPebble, type Pebble } from '../support/pebble.ts';
import { requireCommand, requireTestImage } from '../support/services.ts';
import { httpGet, httpsGet } from '../support/http.ts';

const SERVICES = resourceByPlural('services') as ResourceType;
const DEPLOYMENTS = resourceByPlural('deployments') as ResourceType;
const APP_PAGE = 'orun test app';

function deployment(name: string, hostPort: number): string {
  return `apiVersion: run.orcra.dev/v0alpha
kind: Deployment
metadata:
  name: ${name}
spec:
  image: orun-test/busybox:1
  ports:
    - containerPort: 80
      port: ${hostPort}
  health:
    readiness:
      http: localhost:80/health
`;
}

function service(name: string, deploymentName: string, domain: string, ssl: boolean): string {
  return `apiVersion: run.orcra.dev/v0alpha
kind: Service
metadata:
  name: ${name}
spec:
  deployment: ${deploymentName}
  ingress:
    domain:
      default: ${domain}
      environment: $ENV.${domain}
    ssl: ${ssl}
`;
}

interface ServiceView {
  url?: string;
  domain?: string;
  upstream?: string;
  certificate?: { issuer?: string; notAfter?: string };
  conditions?: { type: string; status: string; reason: string; message: string }[];
}

const statusOf = (o: ApiObject | undefined): ServiceView => o?.status ?? {};
const ready = (o: ApiObject | undefined) => statusOf(o).conditions?.find((c) => c.type === 'Ready');

/** The object, or undefined while the agent does not answer or does not have it yet. */
async function fetch(
  client: ApiClient,
  resource: ResourceType,
  name: string,
): Promise<ApiObject | undefined> {
  try {
    return await client.get(resource, name);
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie (a reparented process may wait unreaped under a container's init). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

/** Pids of caddy processes whose command line names this data dir (ours only). */
function caddyPids(dataDir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes(join(dataDir, 'caddy', 'bootstrap.json')) && alive(Number(e))) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The pid from the agent's latest "caddy is up" log line. */
function caddyPid(agent: AgentProcess): number | undefined {
  const line = agent.lines.findLast((l) => l.msg === 'caddy is up');
  return typeof line?.pid === 'number' ? line.pid : undefined;
}

describe('orun start --ingress caddy (e2e: dist/orun.js, caddy, pebble, dockerd, git)', () => {
  const prefix = uniquePrefix('ing');
  const dep = `${prefix}-app`;
  const web = `${prefix}-web`;
  const plain = `${prefix}-plain`;
  const webHost = `${web}.orun.test`;
  const plainHost = `${plain}.orun.test`;
  const agents: AgentProcess[] = [];
  let pebble: Pebble | undefined;
  let repo: TestGitRepo | undefined;
  let dataDir = '';
  let ports = { http: 0, https: 0, app: 0 };
  let client: ApiClient;

  const start = (extra: Partial<AgentStartOptions> = {}): AgentProcess => {
    const p = pebble as Pebble;
    const agent = new AgentProcess({
      repo: (repo as TestGitRepo).bare,
      node: `${prefix}-node`,
      dataDir,
      ingress: {
        httpPort: ports.http,
        httpsPort: ports.https,
        acmeCA: p.directoryURL,
        acmeCARoot: p.listenerCertFile,
      },
      ...extra,
    });
    agents.push(agent);
    return agent;
  };

  const waitServiceReady = (agent: AgentProcess, name: string, timeoutMs = 45_000): Promise<ApiObject> =>
    waitFor(
      `Service ${name} Ready=True`,
      async () => {
        const o = await fetch(client, SERVICES, name);
        return ready(o)?.status === 'True' ? o : undefined;
      },
      timeoutMs,
      () => agent.dump(),
    );

  beforeAll(async () => {
    requireCommand('caddy', 'caddy', ['version']);
    requirePebble();
    requireTestImage();
    const [h, s, a] = await Promise.all([freePort(), freePort(), freePort()]);
    ports = { http: h, https: s, app: a };
    pebble = await startPebble({ httpPort: ports.http, tlsPort: ports.https });
    repo = new TestGitRepo('orun-ing-agent-');
    repo
      .write({
        [`deployments/${dep}.yaml`]: deployment(dep, ports.app),
        [`services/${web}.yaml`]: service(web, dep, webHost, true),
        [`services/${plain}.yaml`]: service(plain, dep, plainHost, false),
      })
      .commit('an app with an https and a plain http Service');
    dataDir = mkdtempSync(join(tmpdir(), 'orun-ing-'));
    client = new ApiClient({ socketPath: join(dataDir, 'orun.sock') });
  });

  afterAll(async () => {
    for (const a of agents) await a.stop('SIGKILL');
    for (const pid of dataDir === '' ? [] : caddyPids(dataDir)) process.kill(pid, 'SIGKILL');
    removeContainers(prefix);
    await pebble?.stop();
    repo?.cleanup();
    if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true });
  });

  let firstSerial: string | undefined;

  it('routes both Services: status says Ready with the url, HTTPS has a pebble certificate, plain HTTP answers', async () => {
    const ca = (pebble as Pebble).rootPem;
    const agent = start();
    const webObj = await waitServiceReady(agent, web);
    const plainObj = await waitServiceReady(agent, plain);
    expect(statusOf(webObj)).toMatchObject({
      url: `https://${webHost}:${ports.https}`,
      domain: webHost,
      // The serving container's address on the node network, its containerPort: no host port needed.
      upstream: expect.stringMatching(/^\d+\.\d+\.\d+\.\d+:80$/) as string,
    });
    expect(statusOf(webObj).certificate?.issuer).toContain('Pebble');
    expect(ready(webObj)).toMatchObject({ reason: 'Routed' });
    expect(statusOf(plainObj)).toMatchObject({ url: `http://${plainHost}:${ports.http}`, domain: plainHost });
    expect(statusOf(plainObj).certificate).toBeUndefined();

    const secure = await httpsGet(ports.https, webHost, ca);
    expect(secure.status).toBe(200);
    expect(secure.cert?.issuer).toContain('Pebble Intermediate');
    expect(secure.body).toContain(APP_PAGE);
    firstSerial = secure.cert?.serial;

    const insecure = await httpGet(ports.http, plainHost);
    expect(insecure.status).toBe(200);
    expect(insecure.body).toContain(APP_PAGE);
    // The ssl host's plain HTTP answers with Caddy's redirect; an unknown host gets the final 404.
    const redirect = await httpGet(ports.http, webHost);
    expect(redirect.status).toBe(308);
    // Caddy 2.6.2 leaves a non-default https_port out of its redirect (see docs/design/ingress.md).
    expect(redirect.headers.location).toMatch(new RegExp(`^https://${webHost}(:${ports.https})?/$`));
    expect((await httpGet(ports.http, `nobody-${prefix}.orun.test`)).status).toBe(404);

    // `orunctl reconcile svc NAME` reaches the ingress controller.
    await expect(client.reconcile(SERVICES, web)).resolves.toMatchObject({ code: 202 });
    expect(caddyPid(agent)).toBeTypeOf('number');
  });

  it('after a hard kill of the agent the next one takes over Caddy and keeps the certificate', async () => {
    const first = agents.at(-1) as AgentProcess;
    const oldPid = caddyPid(first) as number;
    await first.stop('SIGKILL');
    const second = start();
    await waitFor(
      'a new caddy from the second agent',
      () => {
        const pid = caddyPid(second);
        return pid !== undefined && pid !== oldPid ? pid : undefined;
      },
      30_000,
      () => second.dump(),
    );
    await waitServiceReady(second, web);
    expect(alive(oldPid)).toBe(false);
    const again = await httpsGet(ports.https, webHost, (pebble as Pebble).rootPem);
    expect(again.status).toBe(200);
    expect(again.cert?.serial).toBe(firstSerial);
  });

  it('the Node manifest moves the node to another branch: Services follow to the environment domains', async () => {
    const agent = agents.at(-1) as AgentProcess;
    const r = repo as TestGitRepo;
    r.write({
      [`nodes/${prefix}-node.yaml`]: [
        'apiVersion: run.orcra.dev/v0alpha',
        'kind: Node',
        'metadata:',
        `  name: ${prefix}-node`,
        'spec:',
        '  host: 127.0.0.1',
        `  gitRepo: file://${r.bare}`,
        '  gitBranch: staging',
        '',
      ].join('\n'),
    }).commit('this node tracks staging');
    execFileSync('git', ['-C', r.work, 'push', '-q', 'origin', 'HEAD:refs/heads/staging']);
    const url = (name: string) =>
      waitFor(
        `Service ${name} on the staging domain`,
        async () => {
          const o = await fetch(client, SERVICES, name);
          const u = statusOf(o).url;
          return ready(o)?.status === 'True' && u?.includes('//staging.') ? u : undefined;
        },
        30_000,
        () => agent.dump(),
      );
    expect(await url(web)).toBe(`https://staging.${webHost}:${ports.https}`);
    expect(await url(plain)).toBe(`http://staging.${plainHost}:${ports.http}`);
    const secure = await httpsGet(ports.https, `staging.${webHost}`, (pebble as Pebble).rootPem);
    expect([secure.status, secure.body.includes(APP_PAGE)]).toEqual([200, true]);
    expect((await httpGet(ports.http, `staging.${plainHost}`)).status).toBe(200);
    // The production domain is no longer routed by this node.
    expect((await httpGet(ports.http, plainHost)).status).toBe(404);
    expect(agent.lines.some((l) => l.msg === 'node branch changed; re-planning Service domains')).toBe(true);
  });

  it('SIGTERM stops the agent and its caddy; the container keeps running', async () => {
    const agent = agents.at(-1) as AgentProcess;
    const pid = caddyPid(agent) as number;
    expect(alive(pid)).toBe(true);
    const exit = await agent.stop('SIGTERM');
    expect(exit, agent.dump()).toEqual({ code: 0, signal: null });
    expect(alive(pid)).toBe(false);
    expect(caddyPids(dataDir)).toEqual([]);
    expect(agent.lines.some((l) => l.msg === 'stopping caddy')).toBe(true);
    expect((await httpGet(ports.app, 'localhost')).body).toContain(APP_PAGE);
  });
});

describe('orun start when Caddy cannot serve (e2e)', () => {
  /** An agent with one plain Service on a fresh repo; `run` gets it, cleanup is done here. */
  async function withAgent(
    tag: string,
    ingress: (
      ports: { http: number; https: number },
      dataDir: string,
    ) => AgentStartOptions['ingress'] | Promise<AgentStartOptions['ingress']>,
    run: (t: {
      agent: AgentProcess;
      client: ApiClient;
      dep: string;
      svc: string;
      http: number;
    }) => Promise<void>,
  ): Promise<void> {
    requireTestImage();
    const prefix = uniquePrefix(tag);
    const repo = new TestGitRepo(`orun-ing-${tag}-`);
    const dataDir = mkdtempSync(join(tmpdir(), 'orun-ing-'));
    const [h, s, a] = await Promise.all([freePort(), freePort(), freePort()]);
    const dep = `${prefix}-app`;
    const svc = `${prefix}-web`;
    repo
      .write({
        [`deployments/${dep}.yaml`]: deployment(dep, a),
        [`services/${svc}.yaml`]: service(svc, dep, `${svc}.orun.test`, false),
      })
      .commit('app');
    const agent = new AgentProcess({
      repo: repo.bare,
      node: `${prefix}-node`,
      dataDir,
      ingress: await ingress({ http: h, https: s }, dataDir),
    });
    try {
      await run({ agent, client: new ApiClient({ socketPath: agent.socket }), dep, svc, http: h });
    } finally {
      await agent.stop('SIGKILL');
      for (const pid of caddyPids(dataDir)) process.kill(pid, 'SIGKILL');
      removeContainers(prefix);
      repo.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }

  it('HTTP port held by another server (SO_REUSEPORT, as a second Caddy would): no split, Caddy starts once it is free', async () => {
    requireCommand('caddy', 'caddy', ['version']);
    let holder: Server | undefined;
    await withAgent(
      'busy',
      async (p) => {
        const server = createServer((_req, res) => res.end('the other server\n'));
        holder = server;
        await new Promise<void>((r) => server.listen({ port: p.http, reusePort: true }, r));
        return { httpPort: p.http, httpsPort: p.https };
      },
      async ({ agent, client, svc, http: port }) => {
        const cond = await waitFor(
          'Service IngressUnavailable naming the port',
          async () => {
            const c = ready(await fetch(client, SERVICES, svc));
            return c?.reason === 'IngressUnavailable' && c.message.includes(`port ${port} is in use`)
              ? c
              : undefined;
          },
          30_000,
          () => agent.dump(),
        );
        expect(cond.status).toBe('False');
        expect(caddyPids(agent.socket.replace(/\/orun\.sock$/, ''))).toEqual([]);
        await new Promise<void>((r) => holder?.close(() => r()));
        holder = undefined;
        await waitFor(
          'Service Ready once the port is free',
          async () => ready(await fetch(client, SERVICES, svc))?.status === 'True',
          30_000,
          () => agent.dump(),
        );
        expect((await httpGet(port, `${svc}.orun.test`)).body).toContain(APP_PAGE);
      },
    ).finally(() => holder?.close());
  });

  it('no caddy binary: containers still run; Services and logs name the missing binary', async () => {
    let missing = '';
    await withAgent(
      'nocaddy',
      (p, dataDir) => {
        missing = join(dataDir, 'no-such-caddy');
        return { httpPort: p.http, httpsPort: p.https, caddyPath: missing };
      },
      async ({ agent, client, dep, svc }) => {
        const cond = await waitFor(
          'Service IngressUnavailable naming the binary',
          async () => {
            const c = ready(await fetch(client, SERVICES, svc));
            return c?.reason === 'IngressUnavailable' ? c : undefined;
          },
          30_000,
          () => agent.dump(),
        );
        expect(cond.status).toBe('False');
        expect(cond.message).toContain(`"${missing}" was not found`);
        await waitFor(
          'Deployment Ready=True regardless',
          async () => ready(await fetch(client, DEPLOYMENTS, dep))?.status === 'True',
          30_000,
          () => agent.dump(),
        );
        expect(agent.lines.some((l) => l.level === 'error' && String(l.msg).includes('was not found'))).toBe(
          true,
        );
        expect(agent.proc.exitCode).toBeNull();
        expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      },
    );
  });
});

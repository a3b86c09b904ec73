/**
 * The quick start, proven: `orun bootstrap nodes/edge-https.yaml --yes` provisions a fresh
 * systemd node container (no Node.js; the single executable, git and Caddy from apt) from a
 * repository with a Node, a Deployment (nginx, a real app image) and a Service with `ssl: true`;
 * the node's own Caddy then gets a certificate from pebble (the ACME CA, on the host) and answers
 * HTTPS 200 with the app's page, verified against pebble's root only. A commit then changes the
 * app and the new page is served; a commit of another gitBranch moves the node, and the Service
 * answers on that environment's domain with its own certificate. Fixture: https-node.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/agent.ts';
import { ensureSea } from '../support/sea.ts';
import { prepareHttpsNode, type HttpsNode } from './https-node.ts';
import { orun } from './support.ts';

let n: HttpsNode;

beforeAll(async () => {
  ensureSea();
  n = await prepareHttpsNode('edge-https');
}, 300_000);

afterAll(async () => {
  await n?.cleanup();
});

describe('a bootstrapped node serves HTTPS', () => {
  it('bootstrap, then the Service answers HTTPS 200 with a pebble certificate', async () => {
    const t0 = Date.now();
    const r = await orun(n.bootstrapArgs());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^bootstrap: first sync: ok \(main@sha1:[0-9a-f]+, Ready=True\)$/m);
    expect(r.stdout).toMatch(/^service\/web /m);
    expect((await n.node.status('sh', '-c', 'command -v node')).code).not.toBe(0);
    // The drop-in that points the agent at pebble is the operator's: bootstrap left it alone.
    expect(await n.node.exec('cat', '/etc/systemd/system/orun.service.d/acme.conf')).toContain(
      'ORUN_ACME_CA=https://',
    );

    const answer = await waitFor(
      `HTTPS 200 from https://${n.domain} on ${n.node.ip}`,
      async () => {
        const a = await n.get().catch(() => undefined);
        return a?.status === 200 ? a : undefined;
      },
      120_000,
      () => `last bootstrap output:\n${r.stderr}`,
    );
    console.log(`orun bootstrap start to the first HTTPS 200: ${Date.now() - t0} ms`);
    expect(answer.body).toContain('<h1>orun nginx</h1>');
    expect(answer.cert?.issuer).toMatch(/^Pebble Intermediate CA/);

    // The Service's status says the same, on the node, once the controller's certificate check (every
    // 2 s while pending) has seen what the client just saw.
    type Svc = { status?: { url?: string; certificate?: { issuer?: string } } };
    const svc = await waitFor(
      'status.certificate of service web on the node',
      async () => {
        const out = await n.node.exec(
          'orunctl',
          '--socket',
          '/opt/orun/orun.sock',
          'get',
          'svc',
          'web',
          '-o',
          'json',
        );
        const s = JSON.parse(out) as Svc;
        return s.status?.certificate?.issuer ? s : undefined;
      },
      30_000,
    );
    expect(svc.status?.url).toBe(`https://${n.domain}`);
    expect(svc.status?.certificate?.issuer).toContain('Pebble');
  }, 240_000);

  it('a commit changes the app; HTTPS serves the new page', async () => {
    const file = join(n.repo, 'deployments', 'web.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8') +
        `  command: [sh, -c]\n  args: ["echo '<h1>web v2</h1>' > /var/www/html/index.html && exec nginx -g 'daemon off;'"]\n`,
    );
    n.git('commit', '-qam', 'web v2');
    n.git('push', '-q', `ssh://root@${n.node.ip}/srv/manifests.git`, 'main');
    const answer = await waitFor(
      'HTTPS 200 with the v2 page',
      async () => {
        const a = await n.get().catch(() => undefined);
        return a?.status === 200 && a.body.includes('web v2') ? a : undefined;
      },
      120_000,
    );
    expect(answer.cert?.issuer).toMatch(/^Pebble Intermediate CA/);
  }, 240_000);

  it("a commit to gitBranch moves the node; the Service answers on that environment's domain", async () => {
    const text = readFileSync(n.manifest, 'utf8');
    writeFileSync(n.manifest, text.replace('  gitRepo:', '  gitBranch: staging\n  gitRepo:'));
    n.git('commit', '-qam', 'edge-https tracks staging');
    n.git('push', '-q', `ssh://root@${n.node.ip}/srv/manifests.git`, 'main', 'main:staging');
    const staging = `staging.${n.domain}`;
    const answer = await waitFor(
      `HTTPS 200 from https://${staging}`,
      async () => {
        const a = await n.get(staging).catch(() => undefined);
        return a?.status === 200 ? a : undefined;
      },
      120_000,
    );
    expect(answer.body).toContain('web v2');
    expect(answer.cert?.issuer).toMatch(/^Pebble Intermediate CA/);
    // The Service's status follows (its status is written by the controller, not by the answer).
    const url = await waitFor(
      `status.url https://${staging}`,
      async () => {
        const out = await n.node.exec(
          'orunctl',
          '--socket',
          '/opt/orun/orun.sock',
          'get',
          'svc',
          'web',
          '-o',
          'json',
        );
        const u = (JSON.parse(out) as { status?: { url?: string } }).status?.url;
        return u === `https://${staging}` ? u : undefined;
      },
      30_000,
    );
    expect(url).toBe(`https://${staging}`);
  }, 240_000);
});

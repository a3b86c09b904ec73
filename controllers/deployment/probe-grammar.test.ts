/**
 * One probe target grammar: every target `orun validate` (the manifest decoder) accepts is one the
 * agent probes, over real sockets (http, https with a self-signed certificate, tcp).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeManifestFile } from '../../apis/run.orcra.dev/v0alpha/decode.ts';
import { probeHTTP } from '../../runtime/probe/http.ts';
import { probeTCP } from '../../runtime/probe/tcp.ts';
import { desiredContainer } from './desired.ts';
import { Harness } from './harness.ts';
import type { DeploymentSpecView } from './spec.ts';

const servers: { close(): void }[] = [];
const ports = { http: 0, https: 0, tcp: 0 };
let dir = '';

function listen(server: net.Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orun-probe-grammar-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const ok = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
    res.writeHead(200);
    res.end('ok\n');
  };
  ports.http = await listen(http.createServer(ok));
  ports.https = await listen(
    https.createServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      ok,
    ),
  );
  ports.tcp = await listen(net.createServer((s) => s.end()));
});

afterAll(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

const cases: [string, () => string][] = [
  ['http', () => `localhost:${ports.http}/health`],
  ['http', () => `http://localhost:${ports.http}/health?full=1`],
  ['http', () => `127.0.0.1:${ports.http}`],
  ['http', () => `${ports.http}/health`],
  ['http', () => `https://localhost:${ports.https}/health`],
  ['http', () => `https://[::1]:${ports.https}/health`],
  ['tcp', () => `localhost:${ports.tcp}`],
  ['tcp', () => `${ports.tcp}`],
];

describe('a probe orun validate accepts is probed by the agent', () => {
  it.each(cases)('%s %s', async (kind, target) => {
    const text = [
      'apiVersion: run.orcra.dev/v0alpha',
      'kind: Deployment',
      'metadata:',
      '  name: web',
      'spec:',
      '  image: orun-test/busybox:1',
      '  health:',
      '    readiness:',
      `      ${kind}: ${JSON.stringify(target())}`,
      '',
    ].join('\n');
    const decoded = decodeManifestFile('deployments/web.yaml', text);
    expect(decoded.errors.map((e) => e.format())).toEqual([]);
    const spec = decoded.objects[0]?.spec as DeploymentSpecView;

    const h = new Harness({ probe: probeHTTP, tcpProbe: probeTCP });
    h.apply('web', spec);
    // The container "is" this host: its IP is loopback, where the servers listen.
    h.engine.setIPAddress(desiredContainer(h.get('web')!).name, '127.0.0.1');
    await h.reconcile('web');
    expect(h.status('web').lastProbe).toMatchObject({ probe: 'readiness', ok: true });
    expect(h.condition('web', 'Ready')?.status).toBe('True');
  });
});

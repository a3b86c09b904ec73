import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { buildCaddyConfig, type CaddyConfigInput } from './config.ts';

const TESTDATA = join(import.meta.dirname, 'testdata');

/** Compares with testdata/<name>.json; `UPDATE_GOLDEN=1` rewrites it instead. */
function expectGolden(name: string, value: unknown): void {
  const path = join(TESTDATA, `${name}.json`);
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) {
    mkdirSync(TESTDATA, { recursive: true });
    writeFileSync(path, text);
    if (process.env.UPDATE_GOLDEN !== '1')
      throw new Error(`golden file ${path} was missing; written, check it`);
    return;
  }
  // Re-serialised so prettier may format the file; key order and values must still match exactly.
  const golden = JSON.stringify(JSON.parse(readFileSync(path, 'utf8')), null, 2);
  expect(`${golden}\n`).toBe(text);
}

const PEBBLE = {
  ca: 'https://127.0.0.1:14000/dir',
  email: 'ops@orun.test',
  trustedRootsPemFiles: ['/tmp/pebble/listener.pem'],
};

const goldenCases: { name: string; input: CaddyConfigInput }[] = [
  { name: 'empty', input: { routes: [] } },
  {
    name: 'plain-http',
    input: { routes: [{ id: 'docs', host: 'docs.example.com', upstream: '127.0.0.1:8081', tls: false }] },
  },
  {
    name: 'ssl-default-ca',
    input: { routes: [{ id: 'web', host: 'web.example.com', upstream: '127.0.0.1:8080', tls: true }] },
  },
  {
    name: 'mixed-sorted-by-host',
    input: {
      routes: [
        { id: 'web', host: 'web.example.com', upstream: '127.0.0.1:8080', tls: true },
        { id: 'api', host: 'api.example.com', upstream: '127.0.0.1:9000', tls: true },
        { id: 'docs', host: 'docs.example.com', upstream: '127.0.0.1:8081', tls: false },
      ],
      acme: { email: 'ops@example.com' },
    },
  },
  {
    name: 'upstreams-by-name',
    input: {
      routes: [
        { id: 'web', host: 'web.example.com', upstream: '172.18.0.5:80', tls: false },
        { id: 'api', host: 'api.example.com', upstream: '[fd00::5]:8080', tls: true },
        { id: 'docs', host: 'docs.example.com', tls: false },
      ],
      upstreamResolver: { address: 'udp/127.0.0.1:40053' },
    },
  },
  {
    name: 'not-ready-answers-503',
    input: {
      routes: [
        { id: 'web', host: 'web.example.com', tls: true },
        { id: 'docs', host: 'docs.example.com', tls: false },
      ],
    },
  },
  {
    name: 'test-ports-pebble-admin-storage',
    input: {
      routes: [{ id: 'web', host: 'web.orun.test', upstream: '127.0.0.1:32768', tls: true }],
      httpPort: 18080,
      httpsPort: 18443,
      acme: PEBBLE,
      adminListen: 'unix//var/lib/orun/caddy/admin.sock',
      storageRoot: '/var/lib/orun/caddy/storage',
    },
  },
];

describe('buildCaddyConfig golden files', () => {
  it.each(goldenCases)('$name', ({ name, input }) => {
    expectGolden(name, buildCaddyConfig(input));
  });

  it('does not depend on route order', () => {
    const routes = goldenCases[3]!.input.routes;
    const a = buildCaddyConfig({ routes });
    const b = buildCaddyConfig({ routes: [...routes].reverse() });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  it('puts the catch-all TLS policy last, after one policy per ssl host', () => {
    const cfg = buildCaddyConfig(goldenCases[3]!.input) as {
      apps: { tls: { automation: { policies: { subjects?: string[] }[] } } };
    };
    const policies = cfg.apps.tls.automation.policies;
    expect(policies.map((p) => p.subjects)).toEqual([['api.example.com'], ['web.example.com'], undefined]);
  });
});

describe('buildCaddyConfig validation', () => {
  const web = { id: 'web', host: 'web.example.com', upstream: '127.0.0.1:8080', tls: true };
  it.each<{ name: string; input: CaddyConfigInput; message: RegExp }>([
    {
      name: 'duplicate host',
      input: { routes: [web, { ...web, id: 'web2' }] },
      message: /route "web2": host web.example.com is already routed by "web"/,
    },
    {
      name: 'duplicate id',
      input: { routes: [web, { ...web, host: 'b.example.com' }] },
      message: /duplicate id/,
    },
    {
      name: 'upper-case host',
      input: { routes: [{ ...web, host: 'Web.example.com' }] },
      message: /host: expected/,
    },
    {
      name: 'bad id',
      input: { routes: [{ ...web, id: 'Web_1' }] },
      message: /id: expected a DNS-1123 label/,
    },
    {
      name: 'upstream without port',
      input: { routes: [{ ...web, upstream: '127.0.0.1' }] },
      message: /upstream: expected "ip:port", got "127.0.0.1"/,
    },
    {
      name: 'upstream port 0',
      input: { routes: [{ ...web, upstream: '127.0.0.1:0' }] },
      message: /upstream/,
    },
    { name: 'same ports', input: { routes: [], httpPort: 8080, httpsPort: 8080 }, message: /both 8080/ },
    {
      name: 'port out of range',
      input: { routes: [], httpPort: 70000 },
      message: /httpPort: expected integer/,
    },
    {
      name: 'upstream resolver on TCP',
      input: { routes: [], upstreamResolver: { address: '127.0.0.1:53' } },
      message: /upstreamResolver.address: expected "udp\/127.0.0.1:<port>"/,
    },
    {
      name: 'http CA',
      input: { routes: [], acme: { ca: 'http://ca/dir' } },
      message: /acme.ca: expected an https/,
    },
  ])('rejects $name with caddy.invalid_config', ({ input, message }) => {
    let caught: unknown;
    try {
      buildCaddyConfig(input);
    } catch (err) {
      caught = err;
    }
    expect(isOrunError(caught, 'caddy.invalid_config')).toBe(true);
    expect((caught as Error).message).toMatch(/^caddy: build config: /);
    expect((caught as Error).message).toMatch(message);
  });
});

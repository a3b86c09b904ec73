import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { probeCertificate } from './certificate.ts';
import {
  caddyLineLevel,
  caddyPaths,
  CaddySupervisor,
  DEFAULT_RESTART_BACKOFF,
  restartDelay,
} from './supervisor.ts';

describe('restartDelay', () => {
  it.each([
    [0, 1000],
    [1, 2000],
    [4, 16_000],
    [5, 30_000],
    [100, 30_000],
  ])('after %i failures waits %i ms', (failures, ms) => {
    expect(restartDelay(DEFAULT_RESTART_BACKOFF, failures)).toBe(ms);
  });
});

describe('CaddySupervisor without a running caddy', () => {
  it('keeps its files under <dataDir>/caddy', () => {
    expect(caddyPaths('/var/lib/orun')).toEqual({
      dir: '/var/lib/orun/caddy',
      socket: '/var/lib/orun/caddy/admin.sock',
      bootstrap: '/var/lib/orun/caddy/bootstrap.json',
      storage: '/var/lib/orun/caddy/storage',
    });
  });

  it('refuses a data dir whose socket path would not fit a unix socket address', () => {
    expect(() => new CaddySupervisor({ dataDir: `/${'x'.repeat(120)}` })).toThrow(/longer than 107 bytes/);
  });

  it('rejects loads with caddy.unavailable until caddy is up, and its readiness check fails', async () => {
    const s = new CaddySupervisor({ dataDir: '/nonexistent/orun' });
    expect(s.isUp()).toBe(false);
    expect(() => s.check()).toThrow('caddy is not running');
    await expect(s.load({ apps: {} })).rejects.toSatisfy((e) => isOrunError(e, 'caddy.unavailable'));
  });
});

describe('CaddySupervisor with a caddy binary that cannot start', () => {
  it('keeps retrying with back-off (never rejects) and stops when aborted', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'orun-sup-'));
    const registry = new Registry();
    const s = new CaddySupervisor({
      dataDir,
      caddyPath: join(dataDir, 'no-such-caddy'),
      registry,
      restartBackoff: { initialMs: 10, maxMs: 20, resetAfterMs: 60_000 },
    });
    const stop = new AbortController();
    const running = s.start(stop.signal);
    await vi.waitFor(async () =>
      expect(await registry.getSingleMetricAsString('orun_caddy_restarts_total')).toMatch(/ [3-9]\d*$/m),
    );
    expect(s.isUp()).toBe(false);
    stop.abort();
    await running;
    await rm(dataDir, { recursive: true, force: true });
  });
});

describe('probeCertificate', () => {
  it('reports not issued (never rejects) when nothing listens', async () => {
    const state = await probeCertificate({ host: 'web.orun.test', port: 1, timeoutMs: 1000 });
    expect(state.issued).toBe(false);
    expect(state.message).toMatch(/^no certificate served for web.orun.test yet \(connect ECONNREFUSED/);
  });
});

describe('caddyLineLevel', () => {
  it.each([
    [{ level: 'info', logger: 'http.log', msg: 'server running' }, 'debug'],
    [{ level: 'warn', logger: 'http', msg: 'HTTP/2 skipped because it requires TLS' }, 'warn'],
    [
      { level: 'error', logger: 'http.log.error', msg: 'dial tcp 10.0.0.2:80: connect: connection refused' },
      'error',
    ],
    [{ level: 'fatal', msg: 'x' }, 'error'],
    // Written at every load in orun's normal use (Caddy 2.6.2): debug, so a deploy leaves no WARN/ERROR.
    [
      {
        level: 'warn',
        logger: 'http',
        server_name: 'orun-http',
        msg: 'automatic HTTPS is completely disabled for server',
      },
      'debug',
    ],
    [
      {
        level: 'warn',
        logger: 'http',
        server_name: 'other',
        msg: 'automatic HTTPS is completely disabled for server',
      },
      'warn',
    ],
    [
      {
        level: 'error',
        logger: 'http',
        msg: 'server shutdown',
        error: 'context canceled',
        addresses: [':80'],
      },
      'debug',
    ],
    [{ level: 'error', logger: 'http', msg: 'server shutdown', error: 'context deadline exceeded' }, 'error'],
  ])('%j is logged at %s', (entry, level) => {
    expect(caddyLineLevel(entry)).toBe(level);
  });
});

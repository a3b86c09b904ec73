import { describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { probeCertificate } from './certificate.ts';
import { caddyPaths, CaddySupervisor, DEFAULT_RESTART_BACKOFF, restartDelay } from './supervisor.ts';

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

describe('probeCertificate', () => {
  it('reports not issued (never rejects) when nothing listens', async () => {
    const state = await probeCertificate({ host: 'web.orun.test', port: 1, timeoutMs: 1000 });
    expect(state.issued).toBe(false);
    expect(state.message).toMatch(/^no certificate served for web.orun.test yet \(connect ECONNREFUSED/);
  });
});

/**
 * Switching a route's upstream never resets a connection (issue 10): the real supervised Caddy,
 * the real Service reconciler with its upstream DNS, two loopback upstreams, clients on fresh
 * connections back to back. INGRESS_SWITCHES (default 10) switches; bench/ingress-switch.ts runs
 * more, beside the old /load-per-switch path as its baseline.
 */
import { describe, expect, it } from 'vitest';
import { runSwitches } from '../support/ingress-switch.ts';
import { requireCommand } from '../support/services.ts';

const SWITCHES = Number(process.env.INGRESS_SWITCHES ?? 10);

describe('ingress: upstream switches under fresh-connection load (e2e: caddy)', () => {
  it(`${SWITCHES} switches by name: no reload, 0 connection resets, every answer 2xx`, async () => {
    requireCommand('caddy', 'caddy', ['version']);
    const r = await runSwitches({ switches: SWITCHES, byName: true, concurrency: 4 });
    const detail = JSON.stringify(r);
    expect(r.loads, detail).toBe(0);
    expect(r.resets, detail).toBe(0);
    expect(r.otherErrors + r.non2xx, detail).toBe(0);
    expect(r.byUpstream[0], detail).toBeGreaterThan(0);
    expect(r.byUpstream[1], detail).toBeGreaterThan(0);
  }, 120_000);
});

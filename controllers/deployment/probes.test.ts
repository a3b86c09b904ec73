import { describe, expect, it } from 'vitest';
import { nextProbe, ProbeTracker, recordProbe, type ProbeSpecs } from './probes.ts';
import { probeAddress } from './supervise.ts';

const TIMEOUT = 300_000;
const r = (type: 'readiness' | 'liveness', ok: boolean, time: number) => ({
  type,
  ok,
  message: ok ? 'HTTP 200' : 'refused',
  time,
});

describe('probe state machine', () => {
  it('no probes: ready at once and idle', () => {
    const s = new ProbeTracker().observe('c', {}, 0);
    expect(s.ready).toBe(true);
    expect(nextProbe(s, {}, 0)).toEqual({ kind: 'idle' });
  });

  it('readiness: probed at once, fast retries capped at the period, then liveness every period', () => {
    const specs: ProbeSpecs = {
      readiness: { http: 'localhost:80/', periodSeconds: 3 },
      liveness: { http: 'localhost:80/l' },
    };
    const s = new ProbeTracker().observe('c', specs, 0);
    expect(nextProbe(s, specs, 0)).toMatchObject({ kind: 'probe', type: 'readiness' });
    const waits: number[] = [];
    let t = 0;
    for (let i = 0; i < 6; i++) {
      recordProbe(s, specs, r('readiness', false, t), TIMEOUT);
      waits.push(s.nextProbeAt - t);
      t = s.nextProbeAt;
    }
    expect(waits).toEqual([100, 200, 400, 800, 1600, 3000]);
    expect(recordProbe(s, specs, r('readiness', true, t), TIMEOUT)).toMatchObject({ becameReady: true });
    expect(nextProbe(s, specs, t)).toEqual({ kind: 'wait', ms: 10_000 });
    expect(nextProbe(s, specs, t + 10_000)).toMatchObject({ kind: 'probe', type: 'liveness' });
  });

  it.each([
    [1, [true]],
    [3, [false, false, true]],
  ])('liveness with failureThreshold %i restarts on the last of %j', (failureThreshold, restartAt) => {
    const specs: ProbeSpecs = { liveness: { http: 'localhost:80/', failureThreshold } };
    const s = new ProbeTracker().observe('c', specs, 0);
    const restarts = restartAt.map(
      (_, i) => recordProbe(s, specs, r('liveness', false, i * 10_000), TIMEOUT).restart,
    );
    expect(restarts).toEqual(restartAt);
  });

  it('reports the readiness timeout once', () => {
    const specs: ProbeSpecs = { readiness: { http: 'localhost:80/' } };
    const s = new ProbeTracker().observe('c', specs, 0);
    expect(recordProbe(s, specs, r('readiness', false, 1_000), 5_000).timedOut).toBe(false);
    expect(recordProbe(s, specs, r('readiness', false, 6_000), 5_000).timedOut).toBe(true);
    expect(recordProbe(s, specs, r('readiness', false, 16_000), 5_000).timedOut).toBe(false);
    expect(s.readinessTimedOut).toBe(true);
  });
});

describe('probeAddress', () => {
  const published = [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' as const, hostIP: '0.0.0.0' }];
  it.each([
    ['localhost', 80, '172.17.0.5', { host: '172.17.0.5', port: 80 }],
    ['127.0.0.1', 8080, '172.17.0.5', { host: '172.17.0.5', port: 8080 }],
    ['db.internal', 5432, '172.17.0.5', { host: 'db.internal', port: 5432 }],
    ['localhost', 80, undefined, { host: '127.0.0.1', port: 8080 }],
    ['localhost', 9090, undefined, undefined],
  ])('%s:%i with IP %s → %j', (host, port, ip, want) => {
    expect(
      probeAddress({ host, port }, { ports: published, ...(ip === undefined ? {} : { ipAddress: ip }) }),
    ).toEqual(want);
  });
});

import { describe, expect, it } from 'vitest';
import type { ContainerSpec } from './engine.ts';
import { toContainerEvent, toCreateOptions } from './dockerode.ts';

describe('toContainerEvent', () => {
  const actor = (attrs: Record<string, string>) => ({
    ID: 'abc',
    Attributes: { name: 'web', image: 'i:1', app: 'web', ...attrs },
  });

  it.each([
    [
      {
        Type: 'container',
        Action: 'die',
        Actor: actor({ exitCode: '137' }),
        time: 1,
        timeNano: 1_500_000_000,
      },
      { action: 'die', id: 'abc', name: 'web', labels: { app: 'web' }, exitCode: 137, timeMs: 1500 },
    ],
    [
      { Type: 'container', Action: 'health_status: unhealthy', Actor: actor({}), time: 2 },
      {
        action: 'health_status',
        id: 'abc',
        name: 'web',
        labels: { app: 'web' },
        healthStatus: 'unhealthy',
        timeMs: 2000,
      },
    ],
    [
      { Type: 'container', Action: 'kill', Actor: actor({ signal: '9' }), time: 3 },
      { action: 'kill', id: 'abc', name: 'web', labels: { app: 'web' }, timeMs: 3000 },
    ],
  ])('%j', (msg, want) => {
    expect(toContainerEvent(msg)).toEqual(want);
  });

  it.each([[{ Type: 'network', Action: 'connect', Actor: { ID: 'n' } }], [{ Type: 'container' }]])(
    'ignores %j',
    (msg) => {
      expect(toContainerEvent(msg)).toBeUndefined();
    },
  );
});

describe('toCreateOptions', () => {
  const base: ContainerSpec = { name: 'web', image: 'i:1' };

  it('leaves every optional limit out when unset (the engine and image defaults)', () => {
    const o = toCreateOptions(base);
    expect(o).not.toHaveProperty('WorkingDir');
    expect(o).not.toHaveProperty('User');
    expect(Object.keys(o.HostConfig ?? {}).sort()).toEqual(['Mounts', 'PortBindings', 'RestartPolicy']);
  });

  it.each<[string, Partial<ContainerSpec>, Record<string, unknown>]>([
    ['workingDir', { workingDir: '/app' }, { WorkingDir: '/app' }],
    ['user', { user: '1000:1000' }, { User: '1000:1000' }],
    [
      'memoryBytes',
      { memoryBytes: 536_870_912 },
      { HostConfig: expect.objectContaining({ Memory: 536_870_912 }) },
    ],
    [
      'nanoCpus',
      { nanoCpus: 1_500_000_000 },
      { HostConfig: expect.objectContaining({ NanoCpus: 1_500_000_000 }) },
    ],
    [
      'cpuQuota (default period)',
      { cpuQuota: 50_000 },
      { HostConfig: expect.objectContaining({ CpuQuota: 50_000, CpuPeriod: 100_000 }) },
    ],
    [
      'cpuQuota + cpuPeriod',
      { cpuQuota: 20_000, cpuPeriod: 10_000 },
      { HostConfig: expect.objectContaining({ CpuQuota: 20_000, CpuPeriod: 10_000 }) },
    ],
    [
      'ulimits',
      { ulimits: [{ name: 'nofile', soft: 1024, hard: 4096 }] },
      { HostConfig: expect.objectContaining({ Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 4096 }] }) },
    ],
    ['pidsLimit', { pidsLimit: 64 }, { HostConfig: expect.objectContaining({ PidsLimit: 64 }) }],
    ['blkioWeight', { blkioWeight: 500 }, { HostConfig: expect.objectContaining({ BlkioWeight: 500 }) }],
    [
      'binds then named volumes, as Mounts',
      {
        binds: [{ hostPath: '/srv/a', containerPath: '/a' }],
        volumes: [
          { name: 'p_data', containerPath: '/data', labels: { x: 'y' } },
          { name: 'p_ro', containerPath: '/ro', readOnly: true },
        ],
      },
      {
        HostConfig: expect.objectContaining({
          Mounts: [
            { Type: 'bind', Source: '/srv/a', Target: '/a', ReadOnly: false },
            {
              Type: 'volume',
              Source: 'p_data',
              Target: '/data',
              ReadOnly: false,
              VolumeOptions: { Labels: { x: 'y' } },
            },
            { Type: 'volume', Source: 'p_ro', Target: '/ro', ReadOnly: true },
          ],
        }),
      },
    ],
  ])('maps %s', (_what, extra, expected) => {
    expect(toCreateOptions({ ...base, ...extra })).toMatchObject(expected);
  });
});

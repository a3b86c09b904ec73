import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envSettings, fileSettings, nodeOverrides, resolveSettings } from './options.ts';

describe('orun start settings', () => {
  it('applies defaults in one place', () => {
    const s = resolveSettings([{ repo: '/r' }], 'myhost');
    expect({ ...s, pinned: [...s.pinned] }).toEqual({
      repo: '/r',
      branch: 'main',
      node: 'myhost',
      dataDir: '/opt/orun/',
      pollIntervalMs: 5000,
      ageKeyPath: undefined,
      sshKeyPath: undefined,
      metricsAddress: '127.0.0.1:9464',
      socket: '/opt/orun/orun.sock',
      logLevel: 'info',
      pinned: ['repo'],
    });
  });

  it.each([
    {
      name: 'flag beats env and file',
      sources: [{ branch: 'f' }, { branch: 'e' }, { branch: 'c' }],
      want: 'f',
    },
    { name: 'env beats file', sources: [{}, { branch: 'e' }, { branch: 'c' }], want: 'e' },
    { name: 'file beats default', sources: [{}, {}, { branch: 'c' }], want: 'c' },
    { name: 'default', sources: [{}, {}, {}], want: 'main' },
  ])('precedence: $name', ({ sources, want }) => {
    expect(resolveSettings([{ repo: '/r' }, ...sources]).branch).toBe(want);
  });

  it('reads ORUN_* variables and a YAML config file', async () => {
    expect(envSettings({ ORUN_REPO: 'x', ORUN_POLL_INTERVAL: '2s', ORUN_NODE: '' })).toEqual({
      repo: 'x',
      pollIntervalMs: '2s',
    });
    const dir = mkdtempSync(join(tmpdir(), 'orun-cfg-'));
    writeFileSync(join(dir, 'c.yaml'), 'repo: /r\npollInterval: 1m\ndataDir: /d\n');
    const s = resolveSettings([await fileSettings(join(dir, 'c.yaml'))]);
    expect([s.pollIntervalMs, s.socket]).toEqual([60_000, '/d/orun.sock']);
    writeFileSync(join(dir, 'bad.yaml'), 'repoo: /r\n');
    await expect(fileSettings(join(dir, 'bad.yaml'))).rejects.toMatchObject({ code: 'orun.bad_config' });
  });

  it.each([
    { name: 'no repo', raw: {}, code: 'orun.bad_setting' },
    { name: 'bad duration', raw: { repo: '/r', pollIntervalMs: 'soon' }, code: 'orun.bad_setting' },
    { name: 'bad log level', raw: { repo: '/r', logLevel: 'loud' }, code: 'orun.bad_setting' },
  ])('rejects $name', ({ raw, code }) => {
    expect(() => resolveSettings([raw])).toThrow(expect.objectContaining({ code }));
  });

  it.each([
    { name: 'unpinned: the Node manifest wins', raw: {}, want: { branch: 'dev', pollIntervalMs: 30_000 } },
    {
      name: 'pinned by a flag: the manifest is ignored',
      raw: { branch: 'main', pollIntervalMs: '1s' },
      want: { branch: 'main', pollIntervalMs: 1000 },
    },
  ])('Node manifest overrides, $name', ({ raw, want }) => {
    const s = resolveSettings([{ repo: '/r', ...raw }]);
    expect(nodeOverrides(s, { gitBranch: 'dev', pollInterval: '30s' })).toEqual(want);
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envSettings, fileSettings, nodeOverrides, resolveSettings } from './settings.ts';

describe('orun start settings', () => {
  it('reads the crash back-off (a flag, ORUN_CRASH_BACKOFF or crashBackoff:) and refuses a bad one', () => {
    expect(resolveSettings([{ repo: 'r', crashBackoffMs: '1s' }], 'h').crashBackoffMs).toBe(1000);
    expect(envSettings({ ORUN_CRASH_BACKOFF: '2s' })).toEqual({ crashBackoffMs: '2s' });
    expect(() => resolveSettings([{ repo: 'r', crashBackoffMs: '0s' }], 'h')).toThrow(
      /crash back-off "0s": expected a duration/,
    );
  });

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
      secretsDir: '/run/orun/secrets',
      metricsAddress: '127.0.0.1:9464',
      socket: '/opt/orun/orun.sock',
      logLevel: 'info',
      ingress: 'caddy',
      httpPort: 80,
      httpsPort: 443,
      acmeCa: 'https://acme-v02.api.letsencrypt.org/directory',
      acmeEmail: undefined,
      acmeCaRoot: undefined,
      caddyPath: 'caddy',
      allowedSignersFile: undefined,
      maxManifestBytes: 1048576,
      maxRepoBytes: 67108864,
      webhookAddress: undefined,
      webhookSecretFile: undefined,
      notify: [],
      crashBackoffMs: 10_000,
      pinned: ['repo'],
    });
  });

  it('webhook and notify settings', () => {
    const s = resolveSettings([
      {
        repo: '/r',
        webhookAddress: ':9292',
        webhookSecretFile: '/s',
        notify: 'generic=http://a.test/x, slack=https://hooks.slack.test/T/B/c',
      },
    ]);
    expect(s.webhookAddress).toBe(':9292');
    expect(s.notify).toEqual([
      { type: 'generic', url: 'http://a.test/x' },
      { type: 'slack', url: 'https://hooks.slack.test/T/B/c' },
    ]);
    expect(() => resolveSettings([{ repo: '/r', webhookAddress: ':9292' }])).toThrow(/--webhook-secret-file/);
    expect(() => resolveSettings([{ repo: '/r', notify: 'teams=https://x.test/secret-token' }])).toThrow(
      /notify "teams=…": expected generic=URL or slack=URL/,
    );
  });

  it.each([
    ['1048576', 1048576],
    ['512KiB', 524288],
    ['2MiB', 2097152],
  ])('reads the size %s as %d bytes', (text, want) => {
    expect(resolveSettings([{ repo: '/r', maxManifestBytes: text }]).maxManifestBytes).toBe(want);
  });

  it.each(['0', '1MB', '-3', 'lots'])('refuses the size %s', (text) => {
    expect(() => resolveSettings([{ repo: '/r', maxRepoBytes: text }])).toThrow(/expected a size/);
  });

  it.each([
    {
      name: 'flags',
      raw: {
        ingress: 'none',
        httpPort: '8080',
        httpsPort: '8443',
        acmeCa: 'https://127.0.0.1:14000/dir',
        acmeEmail: 'ops@example.com',
        acmeCaRoot: 'a.pem, b.pem',
        caddyPath: '/usr/local/bin/caddy',
      },
      want: {
        ingress: 'none',
        httpPort: 8080,
        httpsPort: 8443,
        acmeCa: 'https://127.0.0.1:14000/dir',
        acmeEmail: 'ops@example.com',
        acmeCaRoot: ['a.pem', 'b.pem'],
        caddyPath: '/usr/local/bin/caddy',
      },
    },
    {
      name: 'empty root list',
      raw: { acmeCaRoot: ',' },
      want: { ingress: 'caddy', httpPort: 80, acmeCaRoot: undefined },
    },
  ])('ingress settings: $name', ({ raw, want }) => {
    expect(resolveSettings([{ repo: '/r', ...raw }])).toMatchObject(want);
  });

  it('reads ingress settings from ORUN_* and the config file (a YAML list of roots)', async () => {
    expect(envSettings({ ORUN_INGRESS: 'none', ORUN_HTTP_PORT: '81', ORUN_ACME_CA_ROOT: 'x.pem' })).toEqual({
      ingress: 'none',
      httpPort: '81',
      acmeCaRoot: 'x.pem',
    });
    const dir = mkdtempSync(join(tmpdir(), 'orun-cfg-'));
    writeFileSync(
      join(dir, 'c.yaml'),
      'repo: /r\ningress: caddy\nhttpsPort: 8443\nacmeEmail: a@b.c\nacmeCaRoot: [x.pem, y.pem]\n',
    );
    const s = resolveSettings([{ httpsPort: '9443' }, await fileSettings(join(dir, 'c.yaml'))]);
    expect([s.ingress, s.httpsPort, s.acmeEmail, s.acmeCaRoot]).toEqual([
      'caddy',
      9443,
      'a@b.c',
      ['x.pem', 'y.pem'],
    ]);
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
    { name: 'bad ingress', raw: { repo: '/r', ingress: 'nginx' }, code: 'orun.bad_setting' },
    { name: 'port 0', raw: { repo: '/r', httpPort: '0' }, code: 'orun.bad_setting' },
    { name: 'port text', raw: { repo: '/r', httpsPort: '44x' }, code: 'orun.bad_setting' },
    { name: 'port too big', raw: { repo: '/r', httpsPort: '70000' }, code: 'orun.bad_setting' },
    { name: 'same ports', raw: { repo: '/r', httpPort: '443' }, code: 'orun.bad_setting' },
    { name: 'CA not a URL', raw: { repo: '/r', acmeCa: 'letsencrypt' }, code: 'orun.bad_setting' },
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

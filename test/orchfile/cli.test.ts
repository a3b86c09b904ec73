/**
 * The built `orch` CLI (dist/orch.js, built by the e2e global setup): output streams, exit codes,
 * ARG precedence through flags and the environment, and `orch render` checked by the real
 * `systemd-analyze verify` and Python's plistlib.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireCommand } from '../support/services.ts';
import { expectGolden, FIXTURES, GOLDEN, orch } from './support.ts';

const tmp = mkdtempSync(join(tmpdir(), 'orch-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('orch parse', () => {
  it('prints the spec example as the expected JSON', () => {
    const r = orch(['parse', 'spec-example.orch']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout).toBe(readFileSync(join(GOLDEN, 'spec-example.json'), 'utf8'));
  });

  it('merges overlays left to right', () => {
    const r = orch(['parse', 'base.orch', 'overlay.orch']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(GOLDEN, 'overlay.json'), 'utf8'));
  });

  it.each([
    ['file default', [], {}, 5433],
    ['ORCH_ARG_ env', [], { ORCH_ARG_postgres_port: '7000' }, 7000],
    ['--arg over env', ['--arg', 'postgres_port=6000'], { ORCH_ARG_postgres_port: '7000' }, 6000],
    ['--arg before the files', ['--arg=postgres_port=6001'], {}, 6001],
  ])('ARG precedence: %s', (_n, flags, env, port) => {
    const args = _n.includes('before')
      ? ['parse', ...flags, 'spec-example.orch']
      : ['parse', 'spec-example.orch', ...flags];
    const r = orch(args, { env });
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout) as {
      args: Record<string, string>;
      services: { publish?: { host: number }[] }[];
    };
    expect(json.args.postgres_port).toBe(String(port));
    expect(json.services[0]!.publish![0]!.host).toBe(port);
  });

  it('ignores overrides for undeclared ARGs', () => {
    const r = orch(['parse', 'spec-example.orch', '--arg', 'nope=1'], { env: { ORCH_ARG_other: '2' } });
    expect(Object.keys((JSON.parse(r.stdout) as { args: object }).args)).toEqual([
      'postgres_port',
      'postgres_memory',
      'django_port',
    ]);
  });
});

describe('orch validate', () => {
  it("prints 'valid' on stderr and exits 0", () => {
    expect(orch(['validate', 'spec-example.orch'])).toEqual({ status: 0, stdout: '', stderr: 'valid\n' });
  });

  it('prints every error with file:line:col and exits 1', () => {
    const r = orch(['validate', join(FIXTURES, 'invalid.orch')], { cwd: tmp });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expectGolden('invalid.stderr', r.stderr.replaceAll(FIXTURES, '<fixtures>'));
  });
});

describe('usage errors exit 2', () => {
  it.each([
    [[]],
    [['bogus']],
    [['parse']],
    [['parse', 'missing.orch']],
    [['parse', 'spec-example.orch', '--arg', 'novalue']],
    [['parse', 'spec-example.orch', '--arg', '=v']],
    [['parse', 'spec-example.orch', '--bogus']],
    [['render', 'spec-example.orch']],
    [['render', '--platform', 'windows', 'spec-example.orch']],
  ])('orch %j', (args) => {
    const r = orch(args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toBe('');
  });

  it('names the unreadable file', () => {
    expect(orch(['parse', 'missing.orch']).stderr).toMatch(/^error: cannot read 'missing.orch': ENOENT/);
  });
});

describe('help', () => {
  it.each([[['--help']], [['parse', '--help']], [['validate', '--help']], [['render', '--help']]])(
    'orch %j',
    (args) => {
      const r = orch(args);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^Usage: orch/);
    },
  );
});

describe('orch render', () => {
  const project = '/srv/proj';
  const render = (platform: string, dir: string, files: string[]): void => {
    const r = orch([
      'render',
      '--platform',
      platform,
      '-o',
      dir,
      '--var',
      `ORCH_PROJECT=${project}`,
      ...files,
    ]);
    expect(r).toMatchObject({ status: 0, stderr: '' });
  };

  it.each([
    ['spec-example', ['spec-example.orch']],
    ['host-all', ['host-all.orch']],
    ['overlay', ['base.orch', 'overlay.orch']],
  ])('systemd units for %s match the golden files and pass systemd-analyze verify', (name, files) => {
    requireCommand('systemd-analyze', 'systemd-analyze', ['--version']);
    const dir = join(tmp, `systemd-${name}`);
    render('systemd', dir, files);
    const units = readdirSync(dir).sort();
    for (const u of units) expectGolden(`systemd/${name}/${u}`, readFileSync(join(dir, u), 'utf8'));
    // verify exits 0 even for unknown keys, so its output is the check. Units are verified
    // together so Requires= targets resolve; no running systemd is needed.
    const v = spawnSync('systemd-analyze', ['verify', '--man=no', ...units.map((u) => join(dir, u))], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, SYSTEMD_LOG_LEVEL: 'notice' },
    });
    expect({ status: v.status, output: v.stdout + v.stderr }).toEqual({ status: 0, output: '' });
  });

  it('systemd-analyze verify is a real check: it reports an unknown key (while still exiting 0)', () => {
    requireCommand('systemd-analyze', 'systemd-analyze', ['--version']);
    const dir = join(tmp, 'broken');
    render('systemd', dir, ['spec-example.orch']);
    const unit = join(dir, 'redis.service');
    writeFileSync(unit, readFileSync(unit, 'utf8').replace('[Service]', '[Service]\nRestartSecs=5'));
    const v = spawnSync('systemd-analyze', ['verify', '--man=no', unit], { encoding: 'utf8' });
    expect(v.status).toBe(0);
    expect(v.stdout + v.stderr).toMatch(/Unknown key .*RestartSecs/);
  });

  it.each([
    ['spec-example', ['spec-example.orch']],
    ['host-all', ['host-all.orch']],
  ])('launchd plists for %s match the golden files and are valid plist XML', (name, files) => {
    requireCommand('python3 (for plistlib)', 'python3', ['--version']);
    const dir = join(tmp, `launchd-${name}`);
    render('launchd', dir, files);
    const plists = readdirSync(dir).sort();
    for (const p of plists) expectGolden(`launchd/${name}/${p}`, readFileSync(join(dir, p), 'utf8'));
    const script =
      'import plistlib,sys\nfor f in sys.argv[1:]:\n  d = plistlib.load(open(f, "rb"))\n  assert d["Label"], f\nprint(len(sys.argv) - 1)';
    const v = spawnSync('python3', ['-c', script, ...plists.map((p) => join(dir, p))], { encoding: 'utf8' });
    expect({ status: v.status, stderr: v.stderr, stdout: v.stdout.trim() }).toEqual({
      status: 0,
      stderr: '',
      stdout: String(plists.length),
    });
  });

  it('prints the files on stdout without -o', () => {
    const r = orch(['render', '--platform', 'systemd', 'spec-example.orch']);
    expect(r.status).toBe(0);
    expect(r.stdout.match(/^# file: .*$/gm)).toEqual([
      '# file: postgres.service',
      '# file: redis.service',
      '# file: django.service',
      '# file: db-migrate.service',
      '# file: orch-network.service',
      '# file: orch.target',
    ]);
  });

  it('does not render invalid Orchfiles', () => {
    const r = orch(['render', '--platform', 'systemd', '-o', join(tmp, 'never'), 'invalid.orch']);
    expect(r.status).toBe(1);
    expect(() => readdirSync(join(tmp, 'never'))).toThrow();
  });
});

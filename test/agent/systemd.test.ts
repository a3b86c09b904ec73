// config/systemd/orun.service passes `systemd-analyze verify` with no output at all, and keeps the
// properties that protect managed containers (KillMode=process) and keep the agent up.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireCommand } from '../support/services.ts';

const UNIT = resolve('config/systemd/orun.service');

describe('config/systemd/orun.service', () => {
  it('verifies cleanly with systemd-analyze (ExecStart pointed at the built dist/orun.js)', () => {
    requireCommand('systemd-analyze', 'systemd-analyze', ['--version']);
    const dir = mkdtempSync(join(tmpdir(), 'orun-unit-'));
    const unit = readFileSync(UNIT, 'utf8').replace('/usr/local/bin/orun', resolve('dist/orun.js'));
    writeFileSync(join(dir, 'orun.service'), unit);
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'orun.service')], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });

  it.each([
    ['KillMode', 'process'],
    ['Restart', 'always'],
    ['EnvironmentFile', '-/etc/default/orun'],
    ['ExecStart', '/usr/local/bin/orun start'],
  ])('sets %s=%s', (key, value) => {
    expect(readFileSync(UNIT, 'utf8').split('\n')).toContain(`${key}=${value}`);
  });

  it('the ExecStart command exists in the CLI', () => {
    const help = execFileSync(process.execPath, [resolve('dist/orun.js'), 'start', '--help'], {
      encoding: 'utf8',
    });
    expect(help).toContain('--repo');
  });
});

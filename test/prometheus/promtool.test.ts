/**
 * The sample Prometheus config and alert rules in config/prometheus pass promtool (Debian's
 * prometheus package). A missing promtool fails the test with the fix spelled out.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireCommand } from '../support/services.ts';

const dir = join(import.meta.dirname, '../../config/prometheus');

function promtool(...args: string[]): string {
  return execFileSync('promtool', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('config/prometheus', () => {
  beforeAll(() => requireCommand('promtool (Debian package prometheus)', 'promtool', ['--version']));

  it('alert rules pass promtool check rules', () => {
    const out = promtool('check', 'rules', 'orun.rules.yml');
    expect(out).toContain('SUCCESS: 4 rules found');
  });

  it('the scrape config (with its rule file) passes promtool check config', () => {
    const out = promtool('check', 'config', 'prometheus.yml');
    expect(out).toContain('SUCCESS: prometheus.yml is valid prometheus config file syntax');
    expect(out).toContain('SUCCESS: 4 rules found');
  });

  it('each alert fires on synthetic series (promtool test rules orun.rules.test.yml)', async () => {
    const out = promtool('test', 'rules', 'orun.rules.test.yml');
    expect(out).toContain('SUCCESS');
    const tests = parse(await readFile(join(dir, 'orun.rules.test.yml'), 'utf8')) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const firing = tests.tests.flatMap((t) =>
      t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
    );
    expect(firing).toEqual([
      'OrunAgentDown',
      'OrunGitSyncStale',
      'OrunDeploymentNotReady',
      'OrunDeploymentCrashLooping',
    ]);
  });

  it('defines the four alerts', async () => {
    const rules = parse(await readFile(join(dir, 'orun.rules.yml'), 'utf8')) as {
      groups: { rules: { alert: string }[] }[];
    };
    expect(rules.groups.flatMap((g) => g.rules.map((r) => r.alert))).toEqual([
      'OrunAgentDown',
      'OrunGitSyncStale',
      'OrunDeploymentNotReady',
      'OrunDeploymentCrashLooping',
    ]);
  });
});

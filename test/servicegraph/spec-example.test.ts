// The Orchfile spec's example, unmodified, as a ServiceGraph in the agent (real git, real dockerd,
// dist/orun.js): the images come from an overlay (test/orch-run/fixtures/canary/test.orch). Its
// ONESHOT (db-migrate, a flyway stand-in inserting one row per run) runs exactly once across three
// agent restarts (SIGKILL, SIGTERM, SIGKILL) and a change to another service (redis).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceGraph } from '../../apis/run.orcra.dev/v0alpha/servicegraph.ts';
import { ApiClient } from '../../runtime/api/client.ts';
import { resourceByKind } from '../../runtime/api/resources.ts';
import { AgentProcess, nodeYaml, uniquePrefix, waitFor } from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { freePort } from '../support/net.ts';
import { requireCommand, requireDocker } from '../support/services.ts';
import { migrations } from '../support/canary.ts';

const SG = resourceByKind('ServiceGraph');
const FIXTURE = join(import.meta.dirname, '..', 'orch-run', 'fixtures', 'canary');
const SPEC_EXAMPLE = join(import.meta.dirname, '..', 'orchfile', 'fixtures', 'spec-example.orch');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function files(dir: string, into: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out[join(into, relative(dir, p))] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

describe('the spec example as a ServiceGraph', () => {
  it(
    'runs; db-migrate runs once across 3 agent restarts and a change to redis',
    { timeout: 400_000 },
    async () => {
      const t0 = Date.now();
      const lap = (what: string): void => console.log(`spec example e2e: ${what} at ${Date.now() - t0} ms`);
      requireDocker();
      for (const image of ['orun-test/postgres:1', 'orun-test/redis:1', 'orun-test/flyway:1'])
        requireCommand(`the image ${image} (bash hack/app-images.sh)`, 'docker', ['image', 'inspect', image]);
      requireCommand('pg_isready (postgresql-client)', 'pg_isready', ['--version']);
      requireCommand('redis-cli (redis-tools)', 'redis-cli', ['--version']);
      requireCommand('python (python-is-python3)', 'python', ['--version']);
      const name = uniquePrefix('canary');
      const node = `${name}-node`;
      const repo = new TestGitRepo('orun-sg-canary-');
      const dataDir = mkdtempSync(join(tmpdir(), 'orun-sg-canary-data-'));
      const [pg, django, redis] = [await freePort(), await freePort(), await freePort()];
      let agent: AgentProcess | undefined;
      cleanups.push(async () => {
        await agent?.stop('SIGKILL');
        const ids = execFileSync(
          'docker',
          ['ps', '-aq', '--filter', `label=run.orcra.dev/servicegraph=${name}`],
          {
            encoding: 'utf8',
          },
        )
          .split('\n')
          .filter(Boolean);
        if (ids.length > 0) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
        spawnSync('pkill', ['-f', `manage.py runserver 0.0.0.0:${django}`], { stdio: 'ignore' });
        spawnSync('docker', ['network', 'rm', `${name}_default`], { stdio: 'ignore' });
        spawnSync('docker', ['volume', 'rm', `${name}_postgres-data`], { stdio: 'ignore' });
        repo.cleanup();
        rmSync(dataDir, { recursive: true, force: true });
      });
      const graphYaml = [
        'apiVersion: run.orcra.dev/v0alpha',
        'kind: ServiceGraph',
        'metadata:',
        `  name: ${name}`,
        'spec:',
        '  orchfiles: [canary/Orchfile, canary/test.orch]',
        '  args:',
        `    postgres_port: "${pg}"`,
        `    django_port: "${django}"`,
        `    redis_port: "${redis}"`,
        '',
      ].join('\n');
      const overlay = readFileSync(join(FIXTURE, 'test.orch'), 'utf8');
      repo
        .write({
          [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
          [`servicegraphs/${name}.yaml`]: graphYaml,
          ...files(FIXTURE, 'canary'),
          'canary/Orchfile': readFileSync(SPEC_EXAMPLE, 'utf8'),
        })
        .commit('the spec example');

      const api = new ApiClient({ socketPath: join(dataDir, 'orun.sock') });
      const ready = (what: string, ok: (g: ServiceGraph) => boolean = () => true) =>
        waitFor(
          what,
          async () => {
            const g = (await api.get(SG, name).catch(() => undefined)) as unknown as ServiceGraph | undefined;
            const r = g?.status?.conditions?.find((c) => c.type === 'Ready');
            return r?.status === 'True' && g?.status?.observedGeneration === g?.metadata.generation && ok(g!)
              ? g
              : undefined;
          },
          180_000,
          () => agent?.dump() ?? '',
        );
      const row = (g: ServiceGraph, s: string) => g.status!.services!.find((x) => x.name === s)!;
      const start = (): AgentProcess => new AgentProcess({ repo: repo.bare, node, dataDir });

      agent = start();
      const g1 = await ready('the example Ready');
      expect(row(g1, 'db-migrate').state).toBe('Completed');
      expect(row(g1, 'django')).toMatchObject({ state: 'Running', ready: true });
      lap('first Ready');
      expect(migrations(pg)).toBe(1);
      expect(await (await fetch(`http://127.0.0.1:${django}/`)).text()).toBe(
        'canary.settings.dev hello-from-env-file\n',
      );

      for (const signal of ['SIGKILL', 'SIGTERM', 'SIGKILL'] as const) {
        await agent.stop(signal);
        agent = start();
        const g = await ready(`Ready after a ${signal} restart`);
        lap(`Ready after ${signal}`);
        expect(row(g, 'db-migrate').state).toBe('Completed');
        expect(migrations(pg)).toBe(1);
      }

      // Another service changes (redis's MEMORY): redis is recreated, db-migrate does not run again.
      const redisBefore = row(g1, 'redis').containerID;
      repo
        .write({
          'canary/test.orch': overlay.replace(
            'FROM orun-test/redis:1',
            'FROM orun-test/redis:1\nMEMORY 512M',
          ),
        })
        .commit('redis: less memory');
      const g2 = await ready(
        'Ready after the redis change',
        (g) => row(g, 'redis').containerID !== redisBefore,
      );
      expect(row(g2, 'db-migrate').state).toBe('Completed');
      expect(migrations(pg)).toBe(1);
    },
  );
});

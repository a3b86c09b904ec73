// The Orchfile spec's example, unmodified (test/orchfile/fixtures/spec-example.orch), rendered by
// `orch render --platform systemd` and run by a real systemd: the node image boots systemd 252 as
// PID 1 in a container that shares this machine's network (so the HEALTHCHECKs' `localhost:<port>`
// reach the published ports, as on a real machine) and borrows its engine and docker CLI. The
// overlay used by the other spec-example tests (test/orch-run/fixtures/canary/test.orch) names the
// images built from Debian packages (postgres, redis, a flyway stand-in) and makes redis's host
// port an ARG; ports are free ones. The node gets the host tools the example's HEALTHCHECKs and
// django need (pg_isready, redis-cli, curl, python) from a local apt repository
// (hack/node-debs.sh --orch). Asserted: the target starts the project in order, gated on health;
// db-migrate reaches postgres by its service name and runs once (its ready marker) across a
// restart of redis (RESTART always, after `docker kill`; django, which REQUIRES it, comes back after
// it) and a stop and start of the whole target; the target stops everything and the containers go.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { docker, startNode } from '../bootstrap/support.ts';
import { uniquePrefix, waitFor } from '../support/agent.ts';
import { freePort } from '../support/net.ts';
import { MissingServiceError, requireCommand, requireDocker } from '../support/services.ts';
import { migrations } from '../support/canary.ts';

const ORCH = resolve('dist/orch.js');
const SPEC_EXAMPLE = resolve('test/orchfile/fixtures/spec-example.orch');
const FIXTURE = resolve('test/orch-run/fixtures/canary');
const DEBS = process.env.ORUN_ORCH_DEBS ?? '/var/cache/orun-test/orch-debs';
/** ORCH_PROJECT inside the node: django's WORKDIR and ENV_FILE are relative to it. */
const DIR = '/var/lib/canary';
const SERVICES = ['postgres', 'redis', 'django', 'db-migrate'];

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('the spec example as rendered systemd units under a real systemd', () => {
  it(
    'starts in order, db-migrate runs once, RESTART always after docker kill, the target stops it all',
    { timeout: 300_000 },
    async () => {
      const t0 = Date.now();
      const timings: Record<string, number> = {};
      requireDocker();
      for (const image of ['orun-test/postgres:1', 'orun-test/redis:1', 'orun-test/flyway:1'])
        requireCommand(`the image ${image} (bash hack/app-images.sh)`, 'docker', ['image', 'inspect', image]);
      requireCommand('psql (postgresql-client)', 'psql', ['--version']);
      if (!existsSync(join(DEBS, 'Packages')))
        throw new MissingServiceError(
          'the local apt repository of host tools',
          'run: bash hack/node-debs.sh --orch',
        );
      const [pg, django, redis] = [await freePort(), await freePort(), await freePort()];
      const project = uniquePrefix('sdx');
      const cp = `${project}-`; // CONTAINER_PREFIX
      const unitPrefix = `${project}-`;
      const network = `${cp}${project}_default`;
      const volume = `${cp}${project}_postgres-data`;
      cleanups.push(() => {
        spawnSync('docker', ['rm', '-f', ...SERVICES.map((s) => `${cp}${s}`)], { stdio: 'ignore' });
        spawnSync('docker', ['network', 'rm', network], { stdio: 'ignore' });
        spawnSync('docker', ['volume', 'rm', volume], { stdio: 'ignore' });
      });

      const dockerCli = execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim();
      const node = await startNode({
        authorizedKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2e orch-systemd-e2e',
        dockerSocket: '/var/run/docker.sock',
        // This machine's network: no sshd of the node's own (port 22 is not its to take).
        dockerArgs: ['--network', 'host'],
        mounts: [
          `${dockerCli}:/usr/bin/docker:ro`,
          `${DEBS}:/srv/debs:ro`,
          '/dev/null:/etc/systemd/system/ssh.service:ro',
        ],
      });
      cleanups.push(() => node.remove()); // (runs before the container cleanup above: reverse order)
      timings.boot = Date.now() - t0;
      let t = Date.now();
      await node.exec('sh', '-c', "echo 'deb [trusted=yes] file:/srv/debs ./' > /etc/apt/sources.list");
      await node.exec('sh', '-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-client redis-tools curl python-is-python3 >/dev/null'); // prettier-ignore
      timings.tools = Date.now() - t;

      // The project's files in the node; the units rendered here from the example and the overlay.
      const out = mkdtempSync(join(tmpdir(), 'orch-systemd-spec-'));
      cleanups.push(() => rmSync(out, { recursive: true, force: true }));
      cpSync(FIXTURE, join(out, 'project'), { recursive: true });
      cpSync(SPEC_EXAMPLE, join(out, 'project', 'Orchfile'));
      await node.exec('mkdir', '-p', DIR);
      await docker('cp', `${join(out, 'project')}/.`, `${node.name}:${DIR}`);
      const r = spawnSync(
      process.execPath,
      [ORCH, 'render', '--platform', 'systemd', '--prefix', unitPrefix, '-p', project,
        '--var', `ORCH_PROJECT=${DIR}`, '--var', `CONTAINER_PREFIX=${cp}`, '--container-runtime', 'docker',
        '--arg', `postgres_port=${pg}`, '--arg', `django_port=${django}`, '--arg', `redis_port=${redis}`,
        '-o', join(out, 'units'), join(out, 'project', 'Orchfile'), join(out, 'project', 'test.orch')],
      { encoding: 'utf8' },
    ); // prettier-ignore
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      const files = readdirSync(join(out, 'units')).sort();
      expect(files).toEqual(
        [...SERVICES, 'orch-network']
          .map((s) => `${unitPrefix}${s}.service`)
          .concat(`${unitPrefix}orch.target`)
          .sort(),
      );
      for (const f of files)
        await docker('cp', join(out, 'units', f), `${node.name}:/etc/systemd/system/${f}`);
      await node.exec('systemctl', 'daemon-reload');

      const unit = (s: string) => `${unitPrefix}${s}.service`;
      const state = async (s: string) => (await node.status('systemctl', 'is-active', unit(s))).stdout.trim();
      const show = async (s: string, p: string) =>
        (await node.exec('systemctl', 'show', '-p', p, '--value', unit(s))).trim();
      const containerId = async (s: string) =>
        (await docker('inspect', '-f', '{{.Id}}', `${cp}${s}`).catch(() => '')).trim();
      const dump = () =>
        spawnSync('docker', ['exec', node.name, 'journalctl', '--no-pager', '-n', '80'], { encoding: 'utf8' })
          .stdout;
      const after = async (s: string, dep: string) => [
        s,
        dep,
        Number(await show(s, 'InactiveExitTimestampMonotonic')) >=
          Number(await show(dep, 'ActiveEnterTimestampMonotonic')),
      ];

      // 1. The target starts the project and returns once every service is up and healthy, in order.
      t = Date.now();
      const started = await node.status('systemctl', 'start', `${unitPrefix}orch.target`);
      timings.start = Date.now() - t;
      if (started.code !== 0) throw new Error(`systemctl start failed:\n${dump()}`);
      for (const s of SERVICES) expect([s, await state(s)]).toEqual([s, 'active']);
      for (const [s, dep] of [
        ['django', 'postgres'],
        ['django', 'redis'],
        ['db-migrate', 'postgres'],
      ])
        expect(await after(s!, dep!)).toEqual([s, dep, true]);
      // db-migrate reached postgres by its service name on the project network, once.
      const journal = async (s: string) => node.exec('journalctl', '--no-pager', '-o', 'cat', '-u', unit(s));
      expect(await journal('db-migrate')).toContain('flyway: migrated canary on postgres');
      expect(migrations(pg)).toBe(1);
      // django (a host service in the node) has its ENV and ENV_FILE.
      expect(await (await fetch(`http://127.0.0.1:${django}/`)).text()).toBe(
        'canary.settings.dev hello-from-env-file\n',
      );

      // 2. RESTART always: redis killed through the engine comes back; django (REQUIRES redis) is
      //    restarted once redis is healthy again; postgres is untouched; db-migrate does not run.
      const before = { redis: await containerId('redis'), postgres: await containerId('postgres'), django: await show('django', 'MainPID') }; // prettier-ignore
      t = Date.now();
      await docker('kill', `${cp}redis`);
      await waitFor(
        'redis and django back after docker kill',
        async () =>
          (await containerId('redis')) !== before.redis &&
          (await containerId('redis')) !== '' &&
          (await show('django', 'MainPID')) !== before.django &&
          (await state('redis')) === 'active' &&
          (await state('django')) === 'active',
        60_000,
        dump,
      );
      timings.restart = Date.now() - t;
      expect(await after('django', 'redis')).toEqual(['django', 'redis', true]);
      expect(await containerId('postgres')).toBe(before.postgres);
      expect(migrations(pg)).toBe(1);

      // 3. The target stops the project: every unit inactive, the containers gone (docker run --rm).
      t = Date.now();
      await node.exec('systemctl', 'stop', `${unitPrefix}orch.target`);
      await waitFor('every service stopped', async () => {
      for (const s of SERVICES) if (!/^(inactive|failed)$/.test(await state(s))) return false;
      return true;
    }, 60_000, dump); // prettier-ignore
      timings.stop = Date.now() - t;
      for (const s of ['postgres', 'redis', 'db-migrate']) expect([s, await containerId(s)]).toEqual([s, '']);

      // 4. Started again: the volume kept the database, and db-migrate's ready marker skips it.
      await node.exec('systemctl', 'start', `${unitPrefix}orch.target`);
      for (const s of ['postgres', 'redis', 'django']) expect([s, await state(s)]).toEqual([s, 'active']);
      // ExecCondition= skipped it (Result=exec-condition; the start job succeeds, the unit stays inactive): the executor's
      // `completed before with this definition; not run again`.
      expect(await state('db-migrate')).toBe('inactive');
      expect(await show('db-migrate', 'Result')).toBe('exec-condition');
      expect(migrations(pg)).toBe(1);
      await node.exec('systemctl', 'stop', `${unitPrefix}orch.target`);
      timings.total = Date.now() - t0;
      console.log(`orch systemd spec example timings (ms): ${JSON.stringify(timings)}`);
    },
  );
});

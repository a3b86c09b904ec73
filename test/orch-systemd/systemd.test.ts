// `orch render --platform systemd` under a real systemd: the node image (hack/node-image.sh) boots
// systemd 252 as PID 1 in a container; the units rendered from one Orchfile (host services, and a
// container service on this machine's engine, whose socket and CLI the node borrows) are
// installed there and run through their grouping target. The graph means what the executor
// (runtime/graph) does: start order and health gating, a ONESHOT that runs once, RESTART always
// after a kill, the start limit, a dependant restarted with its dependency (Requires=, not
// BindsTo=), a dependency that ends for good leaving its dependant running, an explicit stop
// stopping dependants, and TimeoutStopSec= escalating to SIGKILL. docs/design/orch-systemd.md
// holds the decisions.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { docker, startNode } from '../bootstrap/support.ts';
import { uniquePrefix, waitFor } from '../support/agent.ts';
import { requireTestImage } from '../support/services.ts';

const ORCH = resolve('dist/orch.js');
/** ORCH_PROJECT inside the node: host services run there, so the files below are relative to it. */
const DIR = '/var/lib/orch-e2e';
const PREFIX = 'e2e-';

const ORCHFILE = `
SERVICE db
RUN echo db-start >> events; sleep 1; echo $$ > db.healthy; exec sleep 100000
HEALTHCHECK kill -0 $(cat db.healthy)
RESTART always
RESTART_DELAY 1s

SERVICE cache
RUN echo cache-start >> events; exec sleep 100000

SERVICE migrate
RUN kill -0 $(cat db.healthy) && echo migrate-run >> events
REQUIRES db
ONESHOT true

SERVICE web
FROM orun-test/busybox:1
HEALTHCHECK docker exec \${CONTAINER_PREFIX}web wget -q -O /dev/null http://127.0.0.1/health
TIMEOUT_STOP 2s

SERVICE probe
FROM orun-test/busybox:1
CMD wget -q -O /dev/null http://web/health
REQUIRES web
ONESHOT true

SERVICE app
RUN echo app-start >> events; exec sleep 100000
REQUIRES db cache migrate web

SERVICE side
RUN echo side-start >> events; exec sleep 100000
AFTER app

SERVICE flaky
RUN echo flaky-start >> events; exit 3
RESTART on-failure
RESTART_DELAY 1s
START_LIMIT_BURST 2
START_LIMIT_INTERVAL 60s

SERVICE stubborn
RUN trap '' TERM; echo stubborn-start >> events; while :; do sleep 1; done
TIMEOUT_STOP 2s
`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('rendered systemd units under a real systemd (node container)', () => {
  it('run the graph the way the executor does', async () => {
    const t0 = Date.now();
    const timings: Record<string, number> = {};
    requireTestImage();
    // Container services run on this machine's engine: its socket and CLI are lent to the node.
    const dockerCli = execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim();
    const node = await startNode({
      authorizedKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2e orch-systemd-e2e',
      dockerSocket: '/var/run/docker.sock',
      mounts: [`${dockerCli}:/usr/bin/docker:ro`],
    });
    cleanups.push(() => node.remove());
    const containerPrefix = `${uniquePrefix('osd')}-`;
    const webContainer = `${containerPrefix}web`;
    // The project network: <CONTAINER_PREFIX><directory of ORCH_PROJECT>_default.
    const network = `${containerPrefix}orch-e2e_default`;
    cleanups.push(() => void spawnSync('docker', ['network', 'rm', network], { stdio: 'ignore' }));
    cleanups.push(
      () =>
        void spawnSync('docker', ['rm', '-f', webContainer, `${containerPrefix}probe`], { stdio: 'ignore' }),
    );
    timings.boot = Date.now() - t0;

    // Render on this machine, install in the node.
    const out = mkdtempSync(join(tmpdir(), 'orch-systemd-'));
    cleanups.push(() => rmSync(out, { recursive: true, force: true }));
    writeFileSync(join(out, 'Orchfile'), ORCHFILE);
    const r = spawnSync(
      process.execPath,
      [ORCH, 'render', '--platform', 'systemd', '--prefix', PREFIX, '--var', `ORCH_PROJECT=${DIR}`,
        '--var', `CONTAINER_PREFIX=${containerPrefix}`, '--container-runtime', 'docker',
        '-o', join(out, 'units'), join(out, 'Orchfile')],
      { encoding: 'utf8' },
    ); // prettier-ignore
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const files = readdirSync(join(out, 'units')).sort();
    expect(files).toEqual(
      ['app', 'cache', 'db', 'flaky', 'migrate', 'probe', 'side', 'stubborn', 'web', 'orch-network'].map((s) => `${PREFIX}${s}.service`).concat(`${PREFIX}orch.target`).sort(),
    ); // prettier-ignore
    await node.exec('mkdir', '-p', DIR);
    for (const f of files) await docker('cp', join(out, 'units', f), `${node.name}:/etc/systemd/system/${f}`);
    await node.exec('systemctl', 'daemon-reload');

    const unit = (s: string) => `${PREFIX}${s}.service`;
    const state = async (s: string) => (await node.status('systemctl', 'is-active', unit(s))).stdout.trim();
    const pid = async (s: string) =>
      (await node.exec('systemctl', 'show', '-p', 'MainPID', '--value', unit(s))).trim();
    const events = async () => (await node.exec('cat', `${DIR}/events`)).trim().split('\n');
    const count = (ev: string[], e: string) => ev.filter((x) => x === e).length;
    const dump = () => spawnSync('docker', ['exec', node.name, 'journalctl', '--no-pager', '-n', '80'], {
      encoding: 'utf8',
    }).stdout; // prettier-ignore

    // 1. The target starts the project and returns once every service is up (healthy): in order,
    //    migrate only after db was healthy (it checks), app after db, cache and migrate, side
    //    (AFTER app) after app.
    let t = Date.now();
    await node.exec('systemctl', 'start', `${PREFIX}orch.target`);
    timings.start = Date.now() - t;
    // (db's HEALTHCHECK: the pid its RUN wrote once up is alive, so a killed instance's is not.)
    // Order as systemd saw it: a unit began activating (InactiveExit) only after what it waits
    // for became active (ActiveEnter; db's only once healthy, migrate's once it exited 0).
    const mono = async (s: string, p: string) =>
      Number(
        (await node.exec('systemctl', 'show', '-p', `${p}TimestampMonotonic`, '--value', unit(s))).trim(),
      );
    const after = async (s: string, dep: string) => [
      s,
      dep,
      (await mono(s, 'InactiveExit')) >= (await mono(dep, 'ActiveEnter')),
    ];
    for (const [s, dep] of [
      ['migrate', 'db'],
      ['app', 'db'],
      ['app', 'cache'],
      ['app', 'migrate'],
      ['app', 'web'],
      ['probe', 'web'],
      ['side', 'app'],
    ])
      expect(await after(s!, dep!)).toEqual([s, dep, true]);
    const ev = await events();
    expect(ev.indexOf('migrate-run')).toBeGreaterThan(ev.indexOf('db-start'));
    expect(count(ev, 'migrate-run')).toBe(1);
    // probe (a container ONESHOT) reached web by its service name on the project network.
    for (const s of ['db', 'cache', 'migrate', 'web', 'probe', 'app', 'side', 'stubborn'])
      expect([s, await state(s)]).toEqual([s, 'active']);
    // The container service runs on the engine under its CONTAINER_PREFIX name.
    const webId = (await docker('inspect', '-f', '{{.Id}} {{.State.Running}}', webContainer)).trim();
    expect(webId).toMatch(/ true$/);

    // The start limit: flaky (exit 3, RESTART on-failure) is started START_LIMIT_BURST (2) times
    // within START_LIMIT_INTERVAL, then given up (the executor's `gave-up`).
    // (systemd 252 keeps Result=exit-code when an automatic restart hits the limit; its journal says so.)
    const journal = async (s: string) => node.exec('journalctl', '--no-pager', '-o', 'cat', '-u', unit(s));
    await waitFor('flaky given up', async () => (await journal('flaky')).includes('Start request repeated too quickly'), 30_000, dump); // prettier-ignore
    expect(await state('flaky')).toBe('failed');
    expect(count(await events(), 'flaky-start')).toBe(2);

    // 2. RESTART always: db killed comes back; app (REQUIRES db) is restarted once db is healthy
    //    again (Requires=; BindsTo= would leave it stopped); side (AFTER only) and cache are not
    //    touched; migrate (ONESHOT) does not run again: its ready marker holds its hash.
    const before = {
      db: await pid('db'),
      app: await pid('app'),
      side: await pid('side'),
      cache: await pid('cache'),
    };
    t = Date.now();
    await node.exec('kill', '-9', before.db);
    await waitFor(
      'db and app back after the kill',
      async () =>
        (await pid('db')) !== before.db &&
        (await pid('app')) !== before.app &&
        (await state('db')) === 'active' &&
        (await state('app')) === 'active',
      30_000,
      dump,
    );
    timings.restart = Date.now() - t;
    const ev2 = await events();
    expect(ev2.slice(ev.length)).toEqual(['db-start', 'app-start']);
    expect(await after('app', 'db')).toEqual(['app', 'db', true]); // after db was healthy again
    expect(count(ev2, 'migrate-run')).toBe(1);
    expect(await pid('side')).toBe(before.side);
    expect(await pid('cache')).toBe(before.cache);
    expect((await docker('inspect', '-f', '{{.Id}} {{.State.Running}}', webContainer)).trim()).toBe(webId);

    // 3. A dependency that ends for good (cache, RESTART no, killed) leaves its dependant running,
    //    as the executor does (Requires=; BindsTo= would stop app).
    const app2 = await pid('app');
    await node.exec('kill', '-9', before.cache);
    await waitFor('cache failed', async () => (await state('cache')) === 'failed', 30_000, dump);
    expect(await state('app')).toBe('active');
    expect(await pid('app')).toBe(app2);

    // 4. Stopping a dependency on purpose stops what REQUIRES it (the executor's `orch restart`
    //    and `down` stop dependants first); an AFTER-only dependant keeps running.
    await node.exec('systemctl', 'stop', unit('db'));
    expect(await state('app')).toBe('inactive');
    expect(await state('side')).toBe('active');

    // 5. The target stops the whole project; stubborn ignores SIGTERM, so TimeoutStopSec=2 ends it
    //    with SIGKILL (Result=timeout).
    t = Date.now();
    // (The target's stop job is done first, being ordered after its services: wait for them.)
    await node.exec('systemctl', 'stop', `${PREFIX}orch.target`);
    const down = async (s: string) => /^(inactive|failed)$/.test(await state(s));
    await waitFor('every service stopped', async () => {
      for (const s of ['db', 'cache', 'migrate', 'web', 'probe', 'app', 'side', 'stubborn']) if (!(await down(s))) return false;
      return true;
    }, 30_000, dump); // prettier-ignore
    timings.stop = Date.now() - t;
    expect((await node.exec('systemctl', 'show', '-p', 'Result', '--value', unit('stubborn'))).trim()).toBe(
      'timeout',
    );

    // The container was stopped and removed (docker run --rm).
    expect(spawnSync('docker', ['inspect', webContainer], { stdio: 'ignore' }).status).not.toBe(0);

    // 6. Started again: everything comes back, the ONESHOT still ran once in all.
    await node.exec('systemctl', 'start', `${PREFIX}orch.target`);
    for (const s of ['db', 'cache', 'web', 'app', 'side']) expect([s, await state(s)]).toEqual([s, 'active']);
    expect(count(await events(), 'migrate-run')).toBe(1);

    // 7. Why not orchd's BindsTo=: the same kill with app bound to db leaves app stopped for good.
    // (Bound to db only: BindsTo= a ONESHOT skipped by its ready marker, inactive, would not even start.)
    await node.exec(
      'sed',
      '-i',
      `s/^Requires=${unit('db')} /BindsTo=${unit('db')}\\nRequires=/`,
      `/etc/systemd/system/${unit('app')}`,
    );
    await node.exec('systemctl', 'daemon-reload');
    await node.exec('systemctl', 'restart', unit('app'));
    const db3 = await pid('db');
    await node.exec('kill', '-9', db3);
    const idle = async () => (await node.exec('systemctl', 'list-jobs', '--no-legend')).trim() === '';
    await waitFor('db back, no jobs left', async () => (await pid('db')) !== db3 && (await state('db')) === 'active' && (await idle()), 30_000, dump); // prettier-ignore
    expect(await state('app')).toBe('inactive');
    timings.total = Date.now() - t0;
    console.log(`orch systemd e2e timings (ms): ${JSON.stringify(timings)}`);
  });
});

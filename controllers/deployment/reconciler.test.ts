import {
  mkdirSync,
  mkdtempSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OrunError } from '../../apis/errors.ts';
import { FakeSecretFiles, TmpfsSecretFiles } from '../../runtime/secretfs/index.ts';
import { SecretString } from '../../runtime/sops/secret.ts';
import { desiredContainer, Label } from './desired.ts';
import { Harness, IMAGE, webSpec } from './harness.ts';
import type { DeploymentSpecView } from './spec.ts';

const MUTATIONS = [
  'createContainer',
  'startContainer',
  'stopContainer',
  'restartContainer',
  'removeContainer',
];

describe('create', () => {
  it('creates, starts and reports Ready for a Deployment without probes', async () => {
    const h = new Harness();
    h.apply('web', webSpec());
    const r = await h.reconcile('web');

    const [c] = await h.engine.listContainers({ [Label.deployment]: 'web' });
    expect(c).toMatchObject({ name: h.cn('web'), state: 'running', image: IMAGE });
    expect(c?.name).toMatch(/^orun-web_[0-9a-f]{8}$/);
    expect(c?.labels).toMatchObject({
      [Label.managedBy]: 'orun',
      [Label.deployment]: 'web',
      [Label.sourceCommit]: 'c0ffee',
    });
    expect(c?.labels[Label.specHash]).toMatch(/^[0-9a-f]{16}$/);
    const st = h.status('web');
    expect(st).toMatchObject({
      ready: true,
      observedGeneration: 1,
      containerID: c?.id,
      imageID: c?.imageId,
      ports: [{ containerPort: 80, port: 8080, protocol: 'tcp' }],
      restarts: 0,
    });
    expect(h.condition('web', 'Ready')).toMatchObject({ status: 'True', reason: 'ContainerReady' });
    expect(h.condition('web', 'Reconciling')).toBeUndefined(); // kstatus: present only while True
    expect(h.condition('web', 'Stalled')).toBeUndefined();
    expect(h.reasons()).toEqual(['Created', 'Started']);
    expect(r?.requeueAfter).toBe(300_000); // resync: catches exits even without the event watch
    expect(await h.metric('orun_deployment_ready', { deployment: 'web' })).toBe(1);
    // Its engine `start` event is its own doing: the controller drops it once (no second reconcile).
    expect(h.reconciler.startedItself(c!.id)).toBe(true);
    expect(h.reconciler.startedItself(c!.id)).toBe(false);
  });

  it('waits for the readiness probe against the container IP, then turns Ready', async () => {
    const h = new Harness();
    h.apply('web', webSpec({ health: { readiness: { http: 'localhost:80/health' } } }));
    h.probeAnswers.set('172.17.0.2:80/health', false);
    const r1 = await h.reconcile('web');
    expect(h.probed).toEqual(['172.17.0.2:80/health']);
    expect(h.condition('web', 'Ready')).toMatchObject({ status: 'False', reason: 'WaitingForReadiness' });
    expect(h.condition('web', 'Reconciling')?.status).toBe('True');
    expect(h.status('web').lastProbe).toMatchObject({ probe: 'readiness', ok: false });
    expect(r1?.requeueAfter).toBe(100); // fast retries until the first success

    h.probeAnswers.set('172.17.0.2:80/health', true);
    h.clock.step(100);
    await h.reconcile('web');
    expect(h.condition('web', 'Ready')).toMatchObject({ status: 'True' });
    expect(h.status('web').lastProbe).toMatchObject({ probe: 'readiness', ok: true, statusCode: 200 });
  });

  it('reports a readiness timeout as Stalled, and recovers when the probe passes', async () => {
    const h = new Harness({ readinessTimeoutMs: 60_000 });
    h.apply('web', webSpec({ health: { readiness: { http: 'localhost:80/health', periodSeconds: 10 } } }));
    h.probeAnswers.set('172.17.0.2:80/health', false);
    const delays = await h.follow('web', 14);
    expect(delays.slice(0, 8)).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 10_000]);
    expect(h.condition('web', 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'ProgressDeadlineExceeded',
    });
    expect(h.condition('web', 'Ready')?.message).toMatch(
      /readiness probe http localhost:80\/health keeps failing/,
    );
    h.probeAnswers.set('172.17.0.2:80/health', true);
    await h.follow('web', 1);
    expect(h.condition('web', 'Ready')?.status).toBe('True');
    expect(h.condition('web', 'Stalled')).toBeUndefined();
  });

  it('builds once from codeDir/context: only when the tagged image is missing', async () => {
    const codeDir = mkdtempSync(join(tmpdir(), 'orun-dep-build-'));
    const ctx = join(codeDir, 'app');
    await import('node:fs/promises').then((fs) => fs.mkdir(ctx));
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${IMAGE}\n`);
    const h = new Harness({ codeDir: () => codeDir });
    h.apply('app', { build: { context: 'app', args: { V: '1' } } });
    await h.reconcile('app');
    expect(h.callsOf(['buildImage'])).toHaveLength(1);
    expect(h.reasons()).toEqual(['Building', 'Built', 'Created', 'Started']);
    const [c] = await h.engine.listContainers({ [Label.deployment]: 'app' });
    expect(c?.image).toMatch(/^orun-build\/app:[0-9a-f]{12}$/);

    // a restarted orun with the container gone: the image is there, so no rebuild
    await h.engine.removeContainer(c?.id ?? '', { force: true });
    h.newReconciler();
    await h.reconcile('app');
    expect(h.callsOf(['buildImage'])).toHaveLength(1);
    expect(h.status('app').ready).toBe(true);
  });
});

describe('update and prune', () => {
  it('replaces only the Deployment whose spec changed (create → stop → start → remove)', async () => {
    const h = new Harness();
    h.engine.addImage('orun-test/busybox:2');
    h.apply('a', webSpec());
    h.apply('b', webSpec({ ports: [{ containerPort: 80, port: 8081 }] }));
    await h.reconcile('a');
    await h.reconcile('b');
    const [oldA] = await h.engine.listContainers({ [Label.deployment]: 'a' });
    const [b] = await h.engine.listContainers({ [Label.deployment]: 'b' });
    const from = h.engine.calls.length;

    h.apply('a', webSpec({ image: 'orun-test/busybox:2' }), 'beef');
    await h.reconcile('a');
    await h.reconcile('b');

    const [newA] = await h.engine.listContainers({ [Label.deployment]: 'a' });
    expect(newA?.id).not.toBe(oldA?.id);
    expect(newA).toMatchObject({ image: 'orun-test/busybox:2', state: 'running' });
    expect(newA?.labels[Label.sourceCommit]).toBe('beef');
    expect(await h.engine.inspectContainer(oldA?.id ?? '')).toBeUndefined();
    expect(h.callsOf(MUTATIONS, from)).toEqual([
      expect.stringMatching(/^createContainer /),
      `stopContainer ${JSON.stringify(oldA?.id)}`,
      expect.stringMatching(/^startContainer /),
      `removeContainer ${JSON.stringify(oldA?.id)}`,
    ]);
    const [b2] = await h.engine.listContainers({ [Label.deployment]: 'b' });
    expect(b2).toMatchObject({ id: b?.id, startedAt: b?.startedAt });
    expect(h.status('a')).toMatchObject({ observedGeneration: 2, containerID: newA?.id, ready: true });
  });

  it('a settled Deployment prunes its secret-file dirs once per spec hash, not at every resync', async () => {
    const files = new FakeSecretFiles();
    const pruned: string[] = [];
    const counting = Object.assign(Object.create(files) as FakeSecretFiles, {
      prune: (d: string, keep?: string) => {
        pruned.push(`${d}@${keep ?? ''}`);
        return files.prune(d, keep);
      },
    });
    const h = new Harness({ secretFiles: counting });
    h.engine.addImage('orun-test/busybox:2');
    h.apply('a', webSpec());
    await h.reconcile('a');
    await h.reconcile('a');
    const settled = pruned.length;
    for (let i = 0; i < 5; i++) await h.reconcile('a');
    expect(pruned).toHaveLength(settled);

    // A rollout makes a new hash: pruned again once it runs alone, then quiet again.
    h.apply('a', webSpec({ image: 'orun-test/busybox:2' }), 'beef');
    await h.reconcile('a');
    await h.reconcile('a');
    const rolled = pruned.length;
    expect(rolled).toBeGreaterThan(settled);
    expect(new Set(pruned.slice(settled)).size).toBe(1);
    for (let i = 0; i < 5; i++) await h.reconcile('a');
    expect(pruned).toHaveLength(rolled);
  });

  it('announces a replacement (Reconciling, Ready=False) before the slow part, then Ready again', async () => {
    const h = new Harness();
    h.engine.addImage('orun-test/busybox:2');
    h.apply('a', webSpec());
    await h.reconcile('a');
    const writes = h.statusWrites.length;

    h.apply('a', webSpec({ image: 'orun-test/busybox:2' }), 'beef');
    await h.reconcile('a');

    const [announce, stopped, ...rest] = h.statusWrites.slice(writes).map((w) => w.status);
    const cond = (st: typeof announce, type: string) => st?.conditions?.find((c) => c.type === type);
    // Recreate (a fixed host port): the old container serves (ready, the route kept) until it has stopped.
    expect(announce?.ready).toBe(true);
    expect(cond(announce, 'Reconciling')).toMatchObject({ status: 'True', reason: 'Replacing' });
    expect(cond(announce, 'Ready')).toMatchObject({ status: 'False' });
    expect(stopped?.ready).toBe(false);
    expect(cond(stopped, 'Reconciling')).toMatchObject({ status: 'True', reason: 'Recreating' });
    const final = rest.at(-1);
    expect(final?.ready).toBe(true);
    expect(cond(final, 'Reconciling')).toBeUndefined();
    expect(cond(final, 'Ready')).toMatchObject({ status: 'True' });
  });

  it('an env change also replaces the container; a new commit alone does not', async () => {
    const h = new Harness();
    h.apply('a', webSpec({ env: { A: '1' } }), 'c1');
    await h.reconcile('a');
    const from = h.engine.calls.length;
    h.apply('a', webSpec({ env: { A: '1' } }), 'c2');
    await h.reconcile('a');
    expect(h.callsOf(MUTATIONS, from)).toEqual([]);
    h.apply('a', webSpec({ env: { A: '2' } }), 'c3');
    await h.reconcile('a');
    expect(h.callsOf(['createContainer'], from)).toHaveLength(1);
    expect(h.engine.specOf(h.cn('a'))?.env).toEqual(['A=2']);
  });

  it('prunes a removed Deployment: its container only, never volumes or host paths', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orun-dep-vol-'));
    writeFileSync(join(dir, 'data.txt'), 'keep me');
    const h = new Harness();
    h.apply('a', webSpec({ volumes: [{ hostPath: dir, containerPath: '/data' }] }));
    h.apply('b', webSpec({ ports: [{ containerPort: 80, port: 8081 }] }));
    await h.reconcile('a');
    await h.reconcile('b');
    // a stranger with an orun-looking name but no managed-by label
    await h.engine.createContainer({ name: 'stranger', image: IMAGE, labels: { [Label.deployment]: 'a' } });
    const [b] = await h.engine.listContainers({ [Label.deployment]: 'b' });
    const from = h.engine.calls.length;

    h.delete('a');
    const r = await h.reconcile('a');
    expect(r).toBeUndefined();
    await h.reconcile('b');

    expect(await h.engine.listContainers({ [Label.managedBy]: 'orun', [Label.deployment]: 'a' })).toEqual([]);
    expect(await h.engine.inspectContainer('stranger')).toBeDefined();
    expect(h.callsOf(['removeContainer'], from)).toHaveLength(1);
    // stopped first, never forced; the engine never removes volumes
    const removes = h.engine.calls.slice(from).filter((c) => c.method === 'removeContainer');
    expect(removes.map((c) => (c.args[1] as { force?: boolean } | undefined)?.force)).toEqual([undefined]);
    expect(existsSync(join(dir, 'data.txt'))).toBe(true);
    expect(await h.engine.inspectContainer(b?.id ?? '')).toMatchObject({
      state: 'running',
      startedAt: b?.startedAt,
    });
    expect(h.events.filter((e) => e.key === 'Deployment/a').map((e) => e.reason)).toContain('Pruned');
    expect(await h.metric('orun_deployment_ready', { deployment: 'a' })).toBeUndefined();
  });

  it("with a node name, owns only that node's containers: another node's are never pruned", async () => {
    const nodeA = new Harness({ nodeName: 'node-a' });
    const nodeB = new Harness({ nodeName: 'node-b' }, nodeA.engine);
    nodeA.apply('a', webSpec());
    nodeB.apply('b', webSpec({ ports: [{ containerPort: 80, port: 8081 }] }));
    await nodeA.reconcile('a');
    await nodeB.reconcile('b');
    const [a] = await nodeA.engine.listContainers({ [Label.deployment]: 'a' });
    const [b] = await nodeA.engine.listContainers({ [Label.deployment]: 'b' });
    expect(a?.labels[Label.node]).toBe('node-a');
    expect(b?.labels[Label.node]).toBe('node-b');

    // node-a's store has no Deployment "b": reconciling it must not prune node-b's container
    await nodeA.reconcile('b');
    expect(await nodeA.engine.inspectContainer(b?.id ?? '')).toMatchObject({ state: 'running' });
    // while node-b prunes its own once "b" is gone from its store
    nodeB.delete('b');
    await nodeB.reconcile('b');
    expect(await nodeA.engine.inspectContainer(b?.id ?? '')).toBeUndefined();
    expect(await nodeA.engine.inspectContainer(a?.id ?? '')).toMatchObject({ state: 'running' });
  });

  it('removes the node network with the last managed container of its node, never while one uses it', async () => {
    const h = new Harness({ nodeName: 'n1', networkName: 'orun-net-n1' });
    const other = new Harness({ nodeName: 'n2', networkName: 'orun-net-n2' }, h.engine);
    h.apply('a', webSpec());
    h.apply('b', webSpec({ ports: [{ containerPort: 80, port: 8081 }] }));
    other.apply('c', webSpec({ ports: [{ containerPort: 80, port: 8082 }] }));
    await h.reconcile('a');
    await h.reconcile('b');
    await other.reconcile('c');
    expect(await h.engine.inspectNetwork('orun-net-n1')).toBeDefined();

    h.delete('a');
    await h.reconcile('a');
    expect(await h.engine.inspectNetwork('orun-net-n1')).toBeDefined(); // b still uses it
    h.delete('b');
    await h.reconcile('b');
    expect(await h.engine.inspectNetwork('orun-net-n1')).toBeUndefined();
    expect(await h.engine.inspectNetwork('orun-net-n2')).toBeDefined(); // another node's

    // The next Deployment creates it again.
    h.apply('d', webSpec());
    await h.reconcile('d');
    expect(await h.engine.inspectNetwork('orun-net-n1')).toBeDefined();
    const [d] = await h.engine.listContainers({ [Label.deployment]: 'd' });
    expect(d?.state).toBe('running');
  });

  it('a Deployment pruned while another one also gone from Git still has a container looks again, and the network goes', async () => {
    const h = new Harness({ nodeName: 'n1', networkName: 'orun-net-n1' });
    h.apply('a', webSpec());
    h.apply('b', webSpec({ ports: [{ containerPort: 80, port: 8081 }] }));
    h.apply('c', webSpec({ ports: [{ containerPort: 80, port: 8082 }] }));
    for (const n of ['a', 'b', 'c']) await h.reconcile(n);
    h.delete('a');
    // b and c are still wanted: a leaves the network to their own removal, and does not look again.
    expect(await h.reconcile('a')).toBeUndefined();
    h.delete('b');
    h.delete('c');
    // a is reconciled again while b's and c's containers are still there (their workers have not
    // removed them yet): a looks again shortly instead of leaving it to whoever ends last.
    expect(await h.reconcile('a')).toEqual({ requeueAfter: 1000 });
    const [bc] = await h.engine.listContainers({ [Label.deployment]: 'b' });
    const [cc] = await h.engine.listContainers({ [Label.deployment]: 'c' });
    for (const c of [bc, cc]) {
      await h.engine.stopContainer(c!.id, { timeoutSeconds: 0 });
      await h.engine.removeContainer(c!.id); // as b's and c's prunes do, without their own check
    }
    expect(await h.engine.inspectNetwork('orun-net-n1')).toBeDefined();
    expect(await h.reconcile('a')).toBeUndefined();
    expect(await h.engine.inspectNetwork('orun-net-n1')).toBeUndefined();
  });

  it('does not prune before the store has synced (empty store at boot)', async () => {
    const h = new Harness();
    h.apply('a', webSpec());
    await h.reconcile('a');
    h.delete('a');
    h.synced = false;
    expect(await h.reconcile('a')).toEqual({ requeueAfter: 1000 });
    expect(await h.engine.listContainers({ [Label.deployment]: 'a' })).toHaveLength(1);
  });

  it('removes duplicates left by a crash mid-rollout and keeps the running one', async () => {
    const h = new Harness();
    h.apply('a', webSpec());
    await h.reconcile('a');
    const [keep] = await h.engine.listContainers({ [Label.deployment]: 'a' });
    await h.engine.createContainer({ name: 'orun-a-old', image: IMAGE, labels: { ...keep?.labels } });
    await h.reconcile('a');
    const left = await h.engine.listContainers({ [Label.deployment]: 'a' });
    expect(left.map((c) => c.id)).toEqual([keep?.id]);
  });

  it('stops several old containers at once, not one grace period after the other', async () => {
    const h = new Harness();
    h.apply('a', webSpec());
    await h.reconcile('a');
    const [keep] = await h.engine.listContainers({ [Label.deployment]: 'a' });
    for (const name of ['orun-a-old1', 'orun-a-old2']) {
      const id = await h.engine.createContainer({ name, image: IMAGE, labels: { ...keep?.labels } });
      await h.engine.startContainer(id);
    }
    let inFlight = 0;
    let most = 0;
    const stop = h.engine.stopContainer.bind(h.engine);
    h.engine.stopContainer = async (id, o) => {
      most = Math.max(most, ++inFlight);
      // A stop takes its time (the app's grace): let the other stops begin meanwhile.
      for (let i = 0; i < 5; i++) await Promise.resolve();
      await stop(id, o);
      inFlight--;
    };
    await h.reconcile('a');
    expect(most).toBe(2);
    const left = await h.engine.listContainers({ [Label.deployment]: 'a' });
    expect(left.map((c) => c.id)).toEqual([keep?.id]);
  });
});

describe('adopt on restart', () => {
  it('a new controller on the same engine touches nothing when all is running with the same hash', async () => {
    const h = new Harness();
    h.apply(
      'a',
      webSpec({ health: { readiness: { http: 'localhost:80/' }, liveness: { http: 'localhost:80/' } } }),
    );
    h.apply('b', webSpec({ ports: [{ containerPort: 80, port: 8081 }], env: { S: new SecretString('x') } }));
    await h.reconcile('a');
    await h.reconcile('b');
    const before = await h.engine.listContainers({});
    const from = h.engine.calls.length;

    h.newReconciler();
    for (let i = 0; i < 3; i++) {
      await h.reconcile('a');
      await h.reconcile('b');
      h.clock.step(10_000);
    }
    expect(h.callsOf([...MUTATIONS, 'pullImage', 'buildImage'], from)).toEqual([]);
    expect(await h.engine.listContainers({})).toEqual(before);
    expect(h.status('a').ready).toBe(true);
    expect(h.status('b').ready).toBe(true);
  });
});

describe('image pull failures', () => {
  it('reports the registry message as Stalled/ImagePullFailed and backs off without a hot loop', async () => {
    const h = new Harness();
    h.engine.failPull(
      'registry.example/app:1',
      'Get "https://registry.example/v2/": dial tcp: lookup registry.example: no such host',
    );
    h.apply('app', { image: 'registry.example/app:1' });

    const r1 = await h.reconcile('app');
    expect(r1).toEqual({ requeueAfter: 10_000 });
    expect(h.condition('app', 'Stalled')).toMatchObject({ status: 'True', reason: 'ImagePullFailed' });
    expect(h.condition('app', 'Ready')?.message).toMatch(/no such host/);
    expect(h.reasons('Warning')).toEqual(['Failed']);

    // anything else waking the key before the back-off expires does not pull again
    h.clock.step(3_000);
    expect(await h.reconcile('app')).toEqual({ requeueAfter: 7_000 });
    expect(h.callsOf(['pullImage'])).toHaveLength(1);

    h.clock.step(7_000);
    expect(await h.reconcile('app')).toEqual({ requeueAfter: 20_000 });
    expect(h.callsOf(['pullImage'])).toHaveLength(2);

    h.engine.failPull('registry.example/app:1', undefined);
    h.engine.addRegistryImage('registry.example/app:1');
    h.clock.step(20_000);
    await h.reconcile('app');
    expect(h.status('app').ready).toBe(true);
    expect(h.condition('app', 'Stalled')).toBeUndefined();
  });

  it('keeps the old container running when the new image cannot be pulled', async () => {
    const h = new Harness();
    h.apply('app', webSpec());
    await h.reconcile('app');
    const [old] = await h.engine.listContainers({ [Label.deployment]: 'app' });
    h.apply('app', webSpec({ image: 'registry.example/app:2' }));
    await h.reconcile('app');
    expect(await h.engine.inspectContainer(old?.id ?? '')).toMatchObject({ state: 'running' });
    expect(h.condition('app', 'Stalled')?.reason).toBe('ImagePullFailed');
  });

  it.each([
    ['nginx', 'Always', 1],
    ['nginx:latest', 'Always', 1],
    [IMAGE, 'IfNotPresent', 0],
  ])('pull policy for %s is %s (pulls when present: %i)', async (image, _policy, pulls) => {
    const h = new Harness();
    h.engine.addImage(image);
    h.engine.addRegistryImage(image);
    h.apply('app', { image });
    await h.reconcile('app');
    expect(h.callsOf(['pullImage'])).toHaveLength(pulls);
    expect(h.status('app').ready).toBe(true);
  });
});

describe('liveness', () => {
  it('stops the container after failureThreshold failures; the crash back-off restarts it', async () => {
    const h = new Harness();
    h.apply(
      'web',
      webSpec({
        health: { liveness: { http: 'localhost:80/live', periodSeconds: 10, failureThreshold: 3 } },
      }),
    );
    expect(await h.reconcile('web')).toEqual({ requeueAfter: 10_000 });
    const [c] = await h.engine.listContainers({ [Label.deployment]: 'web' });
    h.probeAnswers.set(`${c?.ipAddress}:80/live`, false);

    h.clock.step(10_000);
    // three failures 10 s apart, then a kill and a 10 s back-off
    expect(await h.follow('web', 3)).toEqual([10_000, 10_000, 10_000]);
    expect(h.reasons()).toEqual([
      'Created',
      'Started',
      'Unhealthy',
      'Unhealthy',
      'Unhealthy',
      'Killed',
      'BackOff',
    ]);
    expect(h.events.filter((e) => e.reason === 'Unhealthy').every((e) => e.type === 'Warning')).toBe(true);
    expect(h.callsOf(['stopContainer'])).toHaveLength(1);
    expect(h.condition('web', 'Ready')).toMatchObject({ status: 'False', reason: 'CrashLoopBackOff' });
    expect(h.condition('web', 'Ready')?.message).toMatch(
      /killed after failing its liveness probe; back-off 10s/,
    );

    // after the back-off it starts again: same container, one restart
    h.probeAnswers.set(`${c?.ipAddress}:80/live`, true);
    await h.reconcile('web');
    expect(h.callsOf(['startContainer'])).toHaveLength(2);
    expect(h.status('web').restarts).toBe(1);
    expect(h.status('web').containerID).toBe(c?.id);
    expect(await h.metric('orun_deployment_restarts_total', { deployment: 'web' })).toBe(1);
    expect(await h.metric('orun_probe_failures_total', { deployment: 'web', probe: 'liveness' })).toBe(3);
  });

  it('an app that always fails liveness backs off (10 s, 20 s, 40 s …) instead of a restart storm', async () => {
    const h = new Harness();
    h.apply(
      'web',
      webSpec({ health: { liveness: { http: 'localhost:80/live', periodSeconds: 1, failureThreshold: 1 } } }),
    );
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      // a restarted container may get another bridge IP: its probe fails wherever it lives
      for (const c of await h.engine.listContainers({ [Label.deployment]: 'web' }))
        h.probeAnswers.set(`${c.ipAddress}:80/live`, false);
      const d = (await h.reconcile('web'))?.requeueAfter ?? 0;
      delays.push(d);
      h.clock.step(d);
    }
    const backoffs = delays.filter((d) => d >= 5_000);
    expect(backoffs.slice(0, 3)).toEqual([10_000, 20_000, 40_000]);
    expect(h.status('web').restarts).toBeGreaterThanOrEqual(3);
  });

  it('a passing probe resets the failure count', async () => {
    const h = new Harness();
    h.apply('web', webSpec({ health: { liveness: { http: 'localhost:80/live', failureThreshold: 2 } } }));
    await h.reconcile('web');
    const target = '172.17.0.2:80/live';
    for (const ok of [false, true, false, true, false]) {
      h.probeAnswers.set(target, ok);
      h.clock.step(10_000);
      await h.reconcile('web');
    }
    expect(h.callsOf(['restartContainer'])).toEqual([]);
  });
});

describe('crash loop', () => {
  it('restarts with back-off 10s, 20s, 40s … capped at 5 min, and resets after 10 min running', async () => {
    const h = new Harness();
    h.apply('web', webSpec());
    await h.reconcile('web');
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      h.engine.crash(h.cn('web'), 2);
      const r = await h.reconcile('web');
      delays.push(r?.requeueAfter ?? -1);
      expect(h.condition('web', 'Ready')).toMatchObject({ status: 'False', reason: 'CrashLoopBackOff' });
      // an early wake-up (e.g. the die event) does not restart it
      h.clock.step(1_000);
      await h.reconcile('web');
      expect(h.callsOf(['startContainer'])).toHaveLength(1 + i);
      h.clock.step((r?.requeueAfter ?? 0) - 1_000);
      await h.reconcile('web');
      expect(h.callsOf(['startContainer'])).toHaveLength(2 + i);
    }
    expect(delays).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    expect(h.status('web').restarts).toBe(7);
    expect(h.events.filter((e) => e.reason === 'BackOff' && e.type === 'Warning')).toHaveLength(7);
    expect(h.events.find((e) => e.reason === 'BackOff')?.message).toMatch(
      /Back-off 10s restarting failed container \(exited with code 2\)/,
    );

    // 10 minutes of running forgets the crashes
    h.clock.step(600_000);
    await h.reconcile('web');
    h.engine.crash(h.cn('web'), 1);
    expect(await h.reconcile('web')).toEqual({ requeueAfter: 10_000 });
  });
});

describe('stalls that need a person', () => {
  it('a host port conflict is Stalled and retried slowly, not in a hot loop', async () => {
    const h = new Harness();
    h.engine.reservePort(8080);
    h.apply('web', webSpec());
    const delays = [(await h.reconcile('web'))?.requeueAfter ?? 0];
    expect(h.condition('web', 'Stalled')).toMatchObject({ status: 'True', reason: 'HostPortConflict' });
    expect(h.condition('web', 'Ready')?.message).toMatch(/port is already allocated/);

    // reconciles before the delay is up (other events) do nothing
    h.clock.step(5_000);
    await h.reconcile('web');
    expect(h.callsOf(['startContainer'])).toHaveLength(1);
    h.clock.step(5_000);
    // then attempts back off to the 5 min cap: a port freed soon is picked up soon, never a hot loop
    for (let i = 0; i < 6; i++) {
      delays.push((await h.reconcile('web'))?.requeueAfter ?? 0);
      h.clock.step(delays.at(-1) ?? 0);
    }
    expect(delays).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    expect(h.callsOf(['startContainer'])).toHaveLength(7);
    expect(h.callsOf(['createContainer'])).toHaveLength(1);

    // a spec change is tried at once
    h.apply('web', webSpec({ ports: [{ containerPort: 80, port: 8090 }] }));
    await h.reconcile('web');
    expect(h.status('web').ready).toBe(true);
  });

  it('a hostPath that must exist (type Directory) and does not is Stalled with the engine message', async () => {
    const h = new Harness();
    h.apply(
      'web',
      webSpec({ volumes: [{ hostPath: '/does/not/exist/orun', containerPath: '/data', type: 'Directory' }] }),
    );
    expect(await h.reconcile('web')).toEqual({ requeueAfter: 10_000 });
    expect(h.condition('web', 'Stalled')).toMatchObject({ status: 'True', reason: 'InvalidMount' });
    expect(h.condition('web', 'Stalled')?.message).toMatch(/\/does\/not\/exist\/orun/);
  });

  it('orunctl reconcile (retryNow) tries a stalled Deployment at once, not after its back-off', async () => {
    const h = new Harness();
    const dir = join(mkdtempSync(join(tmpdir(), 'orun-dep-retry-')), 'data');
    h.apply('web', webSpec({ volumes: [{ hostPath: dir, containerPath: '/data', type: 'Directory' }] }));
    for (let i = 0; i < 3; i++) await h.reconcile('web'); // held: 10 s, 20 s, 40 s
    expect(h.condition('web', 'Stalled')).toMatchObject({ status: 'True', reason: 'InvalidMount' });
    mkdirSync(dir); // the operator fixes the cause on the node
    await h.reconcile('web'); // a wake-up inside the gate: the held verdict, the engine untouched
    expect(h.condition('web', 'Stalled')?.status).toBe('True');
    h.reconciler.retryNow('Deployment/web');
    await h.reconcile('web');
    expect(h.condition('web', 'Stalled')).toBeUndefined();
    expect(h.status('web').ready).toBe(true);
    rmSync(dirname(dir), { recursive: true, force: true });
  });

  it('a container with our name but without our label is never touched', async () => {
    const h = new Harness();
    h.apply('web', webSpec());
    const name = desiredContainer(h.get('web')!).name;
    const id = await h.engine.createContainer({ name, image: IMAGE });
    await h.reconcile('web');
    expect(h.condition('web', 'Stalled')).toMatchObject({ status: 'True', reason: 'NameConflict' });
    expect(h.callsOf(['stopContainer', 'removeContainer'])).toEqual([]);
    expect(await h.engine.inspectContainer(id)).toBeDefined();
  });
});

describe('secrets', () => {
  const PLAINTEXT = 's3cr3t-Pa55';

  it('reveals secret env values only into the container env, never status, events, logs or metrics', async () => {
    const h = new Harness();
    h.engine.failPull('registry.example/app:1', 'unreachable');
    h.apply('web', webSpec({ env: { PASSWORD: new SecretString(PLAINTEXT), PLAIN: 'hello' } }));
    await h.reconcile('web');
    h.engine.crash(h.cn('web'));
    await h.follow('web', 2);
    h.apply('bad', { image: 'registry.example/app:1', env: { PASSWORD: new SecretString(PLAINTEXT) } });
    await h.reconcile('bad');

    expect(h.engine.specOf(h.cn('web'))?.env).toEqual(
      expect.arrayContaining([`PASSWORD=${PLAINTEXT}`, 'PLAIN=hello']),
    );
    const seen = JSON.stringify({
      statuses: h.statusWrites,
      events: h.events,
      logs: h.logs,
      metrics: await h.registry.metrics(),
      labels: (await h.engine.listContainers({})).map((c) => c.labels),
    });
    expect(seen).not.toContain(PLAINTEXT);
    expect(seen).toContain('Created'); // the check above really looked at something
  });

  it('changing a secret replaces the container', async () => {
    const h = new Harness();
    h.apply('web', webSpec({ env: { PASSWORD: new SecretString('one') } }));
    await h.reconcile('web');
    h.apply('web', webSpec({ env: { PASSWORD: new SecretString('two') } }));
    await h.reconcile('web');
    expect(h.callsOf(['createContainer'])).toHaveLength(2);
    expect(h.engine.specOf(h.cn('web'))?.env).toEqual(['PASSWORD=two']);
  });

  it('an ENC[...] value nobody decrypted stalls instead of reaching the app', async () => {
    const enc = 'ENC[AES256_GCM,data:Zm9v,iv:aXY=,tag:dGFn,type:str]';
    const h = new Harness();
    h.apply('web', webSpec({ env: { PASSWORD: enc } }));
    await h.reconcile('web');
    expect(h.callsOf(['createContainer'])).toEqual([]);
    expect(h.condition('web', 'Stalled')).toMatchObject({ status: 'True', reason: 'SecretNotDecrypted' });

    const h2 = new Harness({ resolveSecret: (c) => (c === enc ? new SecretString(PLAINTEXT) : undefined) });
    h2.apply('web', webSpec({ env: { PASSWORD: enc } }));
    await h2.reconcile('web');
    expect(h2.engine.specOf(h2.cn('web'))?.env).toEqual([`PASSWORD=${PLAINTEXT}`]);
    expect(JSON.stringify([h2.statusWrites, h2.events, h2.logs])).not.toContain(PLAINTEXT);
  });

  it('scoped failure: without secrets.yaml only the Deployment that needs it stalls; the old container keeps running', async () => {
    let values: Record<string, string> = { db: 'one' };
    const state: { why: string | undefined } = { why: undefined };
    const secretKeys = {
      get: (k: string) =>
        state.why === undefined && k in values ? new SecretString(values[k] ?? '') : undefined,
      names: () => Object.keys(values),
      unavailable: () => state.why,
    };
    // The real tmpfs writer: the fake engine checks that bind sources exist.
    const files = new TmpfsSecretFiles(join(mkdtempSync('/dev/shm/orun-reconciler-'), 'node'));
    const written = () =>
      readdirSync(join(files.root, 'web')).map((h) =>
        readFileSync(join(files.root, 'web', h, 'db.txt'), 'utf8'),
      );
    const h = new Harness({ secretKeys, secretFiles: files, secretHashKey: 'node-key' });
    h.apply(
      'web',
      webSpec({ env: { DB: { secretKeyRef: 'db' } }, secretFiles: [{ key: 'db', name: 'db.txt' }] }),
    );
    h.apply('plain', webSpec({ ports: [{ containerPort: 80, port: 8081 }] }));
    await h.reconcile('web');
    await h.reconcile('plain');
    const first = h.engine.specOf(h.cn('web'));
    expect(first?.env).toEqual(['DB=one']);
    expect(written()).toEqual(['one']);

    // The value changes: exactly the Deployment using it rolls, and its old files go.
    values = { db: 'two' };
    await h.reconcile('web');
    await h.reconcile('plain');
    expect(h.engine.specOf(h.cn('web'))?.env).toEqual(['DB=two']);
    expect(written()).toEqual(['two']);
    expect(h.callsOf(['createContainer'])).toHaveLength(3);

    // The key goes missing: web stalls, its container keeps running; plain is untouched.
    state.why = 'secrets.yaml could not be decrypted (SopsNoKey)';
    await h.reconcile('web');
    await h.reconcile('plain');
    expect(h.callsOf(['createContainer'])).toHaveLength(3);
    expect(h.callsOf(['stopContainer', 'removeContainer'])).toHaveLength(2); // only the roll above
    expect(h.condition('web', 'Stalled')).toMatchObject({ status: 'True', reason: 'SecretNotDecrypted' });
    expect(h.condition('web', 'Stalled')?.message).toContain(
      'env DB: secretKeyRef db: secrets.yaml could not be decrypted (SopsNoKey)',
    );
    expect(h.condition('plain', 'Ready')).toMatchObject({ status: 'True' });
    expect(JSON.stringify([h.statusWrites, h.events, h.logs])).not.toMatch(/"(one|two)"|DB=/);
    rmSync(join(files.root, '..'), { recursive: true, force: true });
  });

  it('a secret flattened by structuredClone (plaintext lost) stalls instead of starting with junk', async () => {
    const h = new Harness();
    h.apply('web', webSpec({ env: structuredClone({ PASSWORD: new SecretString(PLAINTEXT) }) }));
    await h.reconcile('web');
    expect(h.callsOf(['createContainer'])).toEqual([]);
    expect(h.condition('web', 'Stalled')?.reason).toBe('SecretNotDecrypted');
  });
});

describe('errors', () => {
  it('an engine outage: Ready=Unknown/EngineUnavailable over the last known facts, nothing pruned, not Stalled', async () => {
    const h = new Harness();
    h.apply('web', webSpec());
    await h.reconcile('web');
    const before = h.status('web');
    h.engine.setDown(true);
    h.delete('other'); // a prune would need the engine: none is attempted
    expect(await h.reconcile('web')).toEqual({ requeueAfter: 10_000 });
    expect(h.condition('web', 'Ready')).toMatchObject({ status: 'Unknown', reason: 'EngineUnavailable' });
    expect(h.condition('web', 'Ready')?.message).toMatch(
      /does not answer \(docker: .*\); the last known state is shown and nothing is changed/,
    );
    expect(h.condition('web', 'Stalled')).toBeUndefined();
    expect(h.status('web')).toMatchObject({ ready: true, containerID: before.containerID, ip: before.ip });
    const writes = h.statusWrites.length;
    await h.reconcile('web'); // same outage, same status: no write
    expect(h.statusWrites).toHaveLength(writes);

    // back: the same container, Ready again, nothing restarted
    h.engine.setDown(false);
    await h.reconcile('web');
    expect(h.condition('web', 'Ready')).toMatchObject({ status: 'True', reason: 'ContainerReady' });
    expect(h.status('web').containerID).toBe(before.containerID);
    expect(
      h.callsOf(MUTATIONS).filter((c) => !c.startsWith('createContainer') && !c.startsWith('startContainer')),
    ).toEqual([]);
  });

  it('a spec the engine refuses (1 MiB memory) is Stalled/ContainerSpecInvalid, terminal, and not retried until the spec changes', async () => {
    const h = new Harness();
    h.apply('web', webSpec({ resources: { limits: { memory: '1Mi' } } }));
    await expect(h.reconcile('web')).rejects.toMatchObject({ name: 'TerminalError' });
    expect(h.condition('web', 'Stalled')).toMatchObject({ status: 'True', reason: 'ContainerSpecInvalid' });
    expect(h.condition('web', 'Ready')?.message).toMatch(/Minimum memory limit allowed is 6MB/);
    expect(h.condition('web', 'Reconciling')).toBeUndefined();
    expect(h.reasons('Warning')).toEqual(['Failed']);

    // wake-ups (engine events, resyncs) do not touch the engine
    h.clock.step(60_000);
    await h.reconcile('web');
    expect(h.callsOf(['createContainer'])).toHaveLength(1);

    h.apply('web', webSpec({ resources: { limits: { memory: '64Mi' } } }));
    await h.reconcile('web');
    expect(h.condition('web', 'Ready')).toMatchObject({ status: 'True' });
    expect(h.condition('web', 'Stalled')).toBeUndefined();
  });

  it('a process that cannot start (no such user) is Stalled/ContainerCannotRun; the old version keeps serving', async () => {
    const h = new Harness();
    h.apply('web', webSpec({ ports: [{ containerPort: 80 }] }));
    await h.reconcile('web');
    const serving = h.status('web').containerID;
    h.apply('web', webSpec({ ports: [{ containerPort: 80 }], user: 'nosuchuser' }));
    h.engine.injectError(
      'startContainer',
      new OrunError(
        'ContainerCannotRun',
        'docker: start container x: unable to find user nosuchuser: no matching entries in passwd file',
      ),
    );
    await expect(h.reconcile('web')).rejects.toMatchObject({ name: 'TerminalError' });
    expect(h.condition('web', 'Stalled')).toMatchObject({ status: 'True', reason: 'ContainerCannotRun' });
    expect(h.status('web')).toMatchObject({ ready: true, containerID: serving });
  });
});

describe('rollout strategies', () => {
  const internal = (image: string, over: Partial<DeploymentSpecView> = {}): DeploymentSpecView => ({
    image,
    ports: [{ containerPort: 80 }],
    health: { readiness: { http: 'localhost:80/health', periodSeconds: 1 } },
    ...over,
  });
  const alive = async (h: Harness) =>
    (await h.engine.listContainers({ [Label.deployment]: 'web' })).filter((c) => c.state === 'running');

  it('RollingUpdate: starts the new container beside the old one, switches once the ingress routes to it, drains, then stops the old one', async () => {
    let upstreams: string[] = [];
    const h = new Harness({ ingress: { upstreamsOf: () => upstreams }, drainMs: 2000 });
    h.engine.addImage('orun-test/busybox:2');
    h.apply('web', internal(IMAGE));
    await h.reconcile('web');
    const old = h.status('web');
    expect(old).toMatchObject({ ready: true, ip: '172.17.0.2', strategy: 'RollingUpdate' });
    upstreams = ['172.17.0.2:80'];

    h.apply('web', internal('orun-test/busybox:2'), 'c2');
    h.probeAnswers.set('172.17.0.3:80/health', false);
    await h.reconcile('web');
    expect(await alive(h)).toHaveLength(2);
    // The old container still serves: the route does not move, nothing answers 503.
    expect(h.status('web')).toMatchObject({ ready: true, ip: '172.17.0.2', containerID: old.containerID });
    expect(h.status('web').rollout).toMatchObject({ phase: 'RollingUpdate' });
    expect(h.condition('web', 'Reconciling')).toMatchObject({ status: 'True', reason: 'RollingUpdate' });

    h.probeAnswers.set('172.17.0.3:80/health', true);
    h.clock.step(1000);
    expect(await h.reconcile('web')).toEqual({ requeueAfter: 100 });
    expect(h.status('web')).toMatchObject({ ready: true, ip: '172.17.0.3' });
    expect(h.condition('web', 'Reconciling')?.reason).toBe('SwitchingTraffic');
    expect(await alive(h)).toHaveLength(2);

    upstreams = ['172.17.0.3:80']; // the Service controller loaded the new upstream
    expect(await h.reconcile('web')).toEqual({ requeueAfter: 2000 });
    expect(h.condition('web', 'Reconciling')?.reason).toBe('Draining');
    expect(await alive(h)).toHaveLength(2);

    h.clock.step(2000);
    await h.reconcile('web');
    const left = await alive(h);
    expect(left.map((c) => c.id)).toEqual([h.status('web').containerID]);
    expect(h.condition('web', 'Ready')?.status).toBe('True');
    expect(h.status('web').rollout).toBeUndefined();
    expect(h.reasons()).toEqual(
      expect.arrayContaining(['RollingUpdate', 'TrafficSwitched', 'Killing', 'RolloutComplete']),
    );
  });

  it('a new version that is never ready is removed at the progress deadline; the old one keeps serving until the next commit', async () => {
    const h = new Harness();
    h.engine.addImage('orun-test/busybox:2');
    h.apply('web', internal(IMAGE, { progressDeadlineSeconds: 20 }));
    await h.reconcile('web');
    const old = h.status('web').containerID;

    h.apply('web', internal('orun-test/busybox:2', { progressDeadlineSeconds: 20 }), 'bad');
    h.probeAnswers.set('172.17.0.3:80/health', false);
    await h.follow('web', 40);
    expect(h.condition('web', 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'ProgressDeadlineExceeded',
    });
    expect(h.condition('web', 'Stalled')?.message).toMatch(
      /last probe: GET http:\/\/172\.17\.0\.3:80\/health/,
    );
    expect(h.status('web')).toMatchObject({ ready: true, containerID: old, ip: '172.17.0.2' });
    expect((await alive(h)).map((c) => c.id)).toEqual([old]);
    expect(h.reasons('Warning')).toContain('ProgressDeadlineExceeded');

    // Not retried for the same spec and commit …
    const from = h.engine.calls.length;
    h.clock.step(60_000);
    await h.reconcile('web');
    expect(h.callsOf(['createContainer'], from)).toEqual([]);
    // … but the next commit tries again.
    h.apply('web', internal('orun-test/busybox:2', { progressDeadlineSeconds: 20 }), 'retry');
    await h.reconcile('web');
    expect(h.callsOf(['createContainer'], from)).toHaveLength(1);
  });

  it('Recreate (a fixed host port): the new container is created, the old stopped, the new started, the old removed', async () => {
    const h = new Harness();
    h.engine.addImage('orun-test/busybox:2');
    h.apply('web', webSpec());
    await h.reconcile('web');
    const from = h.engine.calls.length;
    h.apply('web', webSpec({ image: 'orun-test/busybox:2' }), 'c2');
    await h.reconcile('web');
    const steps = ['createContainer', 'stopContainer', 'startContainer', 'removeContainer'];
    expect(h.callsOf(steps, from).map((c) => c.split(' ')[0])).toEqual(steps);
    expect(h.status('web')).toMatchObject({ ready: true, strategy: 'Recreate' });
    expect(await h.engine.listContainers({ [Label.deployment]: 'web' })).toHaveLength(1);
  });

  it('Recreate: a new container the engine refuses leaves the old one running and serving', async () => {
    const h = new Harness();
    h.engine.addImage('orun-test/busybox:2');
    h.apply('web', webSpec());
    await h.reconcile('web');
    const old = h.status('web').containerID;
    h.apply('web', webSpec({ image: 'orun-test/busybox:2' }), 'c2');
    await h.engine.createContainer({ name: desiredContainer(h.get('web')!).name, image: IMAGE });
    const from = h.engine.calls.length;
    await h.reconcile('web');
    expect(h.condition('web', 'Stalled')).toMatchObject({ status: 'True', reason: 'NameConflict' });
    expect(h.callsOf(['stopContainer', 'removeContainer'], from)).toEqual([]);
    expect((await h.engine.inspectContainer(old!))?.state).toBe('running');
    expect(h.status('web')).toMatchObject({ ready: true, containerID: old });
  });
});

describe('drift and probe kinds', () => {
  it('unpauses a container paused by hand', async () => {
    const h = new Harness();
    h.apply('web', webSpec());
    await h.reconcile('web');
    await h.engine.pauseContainer(h.cn('web'));
    await h.reconcile('web');
    expect((await h.engine.inspectContainer(h.cn('web')))?.state).toBe('running');
    expect(h.reasons()).toContain('Unpaused');
    expect(h.condition('web', 'Ready')?.status).toBe('True');
  });

  it('an exec probe gates readiness on the exit code', async () => {
    const h = new Harness();
    let code = 1;
    h.engine.setExecHandler((_c, cmd) => ({
      exitCode: code,
      output: `ran ${cmd.join(' ')}`,
      timedOut: false,
    }));
    h.apply('web', webSpec({ health: { readiness: { exec: { command: ['pg_isready'] } } } }));
    await h.reconcile('web');
    expect(h.condition('web', 'Ready')).toMatchObject({ status: 'False', reason: 'WaitingForReadiness' });
    expect(h.status('web').lastProbe?.message).toBe('exec pg_isready: exit code 1: ran pg_isready');
    code = 0;
    h.clock.step(500);
    await h.reconcile('web');
    expect(h.condition('web', 'Ready')?.status).toBe('True');
  });

  it('a tcp probe connects to the container IP; initialDelaySeconds holds the first probe', async () => {
    const tried: string[] = [];
    const h = new Harness({
      tcpProbe: ({ host, port }) => {
        tried.push(`${host}:${port}`);
        return Promise.resolve({ ok: true, message: `connected to ${host}:${port}` });
      },
    });
    h.apply('web', webSpec({ health: { readiness: { tcp: 'localhost:5432', initialDelaySeconds: 2 } } }));
    expect(await h.reconcile('web')).toEqual({ requeueAfter: 2000 });
    expect(tried).toEqual([]);
    h.clock.step(2000);
    await h.reconcile('web');
    expect(tried).toEqual(['172.17.0.2:5432']);
    expect(h.condition('web', 'Ready')?.status).toBe('True');
  });
});

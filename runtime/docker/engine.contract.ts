/**
 * The ContainerEngine contract: one suite, run against the fake (`fake.test.ts`, unit tier) and
 * the real engine (`test/docker/engine.test.ts`, e2e tier), so the fake cannot drift from dockerd.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import {
  DockerErrorCode,
  PERMANENT_DOCKER_ERRORS,
  type ContainerEngine,
  type ContainerEvent,
  type ContainerSpec,
  type LogLine,
} from './engine.ts';

export interface EngineHarness {
  engine: ContainerEngine;
  /** A local image whose default command keeps running (busybox httpd on :80). */
  image: string;
  /** Unique per run; every container and image name starts with it. */
  prefix: string;
  /** A host port that is free right now. */
  freePort(): Promise<number>;
  /** `spec` changed so the container prints `lines` when it starts and then keeps running. */
  withOutput(spec: ContainerSpec, lines: readonly LogLine[]): ContainerSpec;
  /** Kills the running container from outside the engine API's stop path (SIGKILL, a crash). */
  crash(id: string): Promise<void>;
  /** Removes an image built by the suite. */
  removeImage(ref: string): Promise<void>;
  /**
   * The container's config as the engine holds it, in {@link ContainerSpec} terms (the real engine
   * reads `docker inspect`'s Config/HostConfig; the fake its recorded spec). Unset limits are undefined.
   */
  applied(id: string): Promise<AppliedConfig>;
}

/** What {@link EngineHarness.applied} reads back. */
export type AppliedConfig = {
  [K in AppliedKey]: ContainerSpec[K] | undefined;
};
type AppliedKey = keyof Pick<
  ContainerSpec,
  | 'workingDir'
  | 'user'
  | 'memoryBytes'
  | 'nanoCpus'
  | 'cpuQuota'
  | 'cpuPeriod'
  | 'ulimits'
  | 'pidsLimit'
  | 'blkioWeight'
>;

/** Rejects unless `p` rejects with an OrunError of `code`; returns that error. */
export async function expectCode(p: Promise<unknown>, code: string): Promise<Error> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected an OrunError ${code}`).toBeDefined();
  if (!isOrunError(caught, code)) {
    throw new Error(
      `expected OrunError ${code}, got ${String((caught as { code?: string }).code)}: ${String(caught)}`,
      {
        cause: caught,
      },
    );
  }
  return caught;
}

/** Iterates until `found` matches, failing after `timeoutMs`; aborts the source either way. */
export async function waitFor<T>(
  source: (signal: AbortSignal) => AsyncIterable<T>,
  found: (item: T, seen: T[]) => boolean,
  timeoutMs = 15_000,
): Promise<T[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const seen: T[] = [];
  try {
    for await (const item of source(ac.signal)) {
      seen.push(item);
      if (found(item, seen)) return seen;
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  throw new Error(`waitFor: not found within ${timeoutMs}ms; saw ${JSON.stringify(seen).slice(0, 2000)}`);
}

export function describeEngineContract(name: string, setup: () => Promise<EngineHarness>): void {
  describe(`ContainerEngine contract: ${name}`, () => {
    let h: EngineHarness;
    let n = 0;
    const created: string[] = [];
    const harness = async (): Promise<EngineHarness> => (h ??= await setup());
    /** A unique container spec for this run, labelled with the run prefix. */
    const spec = (extra: Partial<ContainerSpec> = {}): ContainerSpec => {
      const containerName = `${h.prefix}-${++n}`;
      created.push(containerName);
      return {
        name: containerName,
        image: h.image,
        labels: { 'orun.test/run': h.prefix, 'orun.test/case': String(n) },
        stopTimeoutSeconds: 1,
        ...extra,
      };
    };

    const volumes: string[] = [];
    const networks: string[] = [];
    afterAll(async () => {
      if (h === undefined) return;
      for (const c of created) await h.engine.removeContainer(c, { force: true });
      for (const v of volumes) await h.engine.removeVolume(v);
      for (const net of networks) await h.engine.removeNetwork(net);
    });

    it('pauses and unpauses a container; exec runs a command and reports its exit code and output', async () => {
      await harness();
      const id = await h.engine.createContainer(spec());
      await h.engine.startContainer(id);
      await h.engine.pauseContainer(id);
      expect((await h.engine.inspectContainer(id))?.state).toBe('paused');
      await h.engine.unpauseContainer(id);
      await h.engine.unpauseContainer(id); // not paused: a no-op
      expect((await h.engine.inspectContainer(id))?.state).toBe('running');
      expect(await h.engine.execContainer(id, ['true'])).toEqual({
        exitCode: 0,
        output: '',
        timedOut: false,
      });
      expect(await h.engine.execContainer(id, ['false'])).toMatchObject({ exitCode: 1, timedOut: false });
      expect(await h.engine.execContainer(id, ['echo', 'hello'])).toEqual({
        exitCode: 0,
        output: 'hello\n',
        timedOut: false,
      });
    });

    it('joins a network with aliases, attaches a container later, and never publishes a port without a host port', async () => {
      await harness();
      const net = `${h.prefix}-net`;
      networks.push(net);
      await h.engine.ensureNetwork(net, { labels: { 'orun.test/run': h.prefix } });
      await h.engine.ensureNetwork(net); // exists: kept
      const a = await h.engine.createContainer(
        spec({ network: { name: net, aliases: ['svc'] }, ports: [{ containerPort: 80 }] }),
      );
      await h.engine.startContainer(a);
      const ia = await h.engine.inspectContainer(a);
      expect(ia?.ports).toEqual([]);
      expect(ia?.networks?.[net]).toMatchObject({
        aliases: ['svc'],
        ipAddress: expect.stringMatching(/^\d+\.\d+\.\d+\.\d+$/) as string,
      });
      expect(ia?.ipAddress).toBe(ia?.networks?.[net]?.ipAddress);

      const b = await h.engine.createContainer(spec());
      await h.engine.startContainer(b);
      await h.engine.connectNetwork(b, net, ['other']);
      await h.engine.connectNetwork(b, net, ['other']); // attached already: a no-op
      expect((await h.engine.inspectContainer(b))?.networks?.[net]).toMatchObject({
        aliases: ['other'],
        ipAddress: expect.stringMatching(/^\d+\.\d+\.\d+\.\d+$/) as string,
      });
      await h.engine.removeContainer(a, { force: true });
      await h.engine.removeContainer(b, { force: true });
    });

    it('answers ping and version', async () => {
      await harness();
      await h.engine.ping();
      const v = await h.engine.version();
      expect(v.apiVersion).toMatch(/^1\.\d+$/);
      expect(v.version).not.toBe('');
    });

    it('reports local images by ref, and missing ones as absent', async () => {
      await harness();
      expect(await h.engine.imageExists(h.image)).toBe(true);
      expect(await h.engine.inspectImage(h.image)).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(await h.engine.imageExists(`${h.prefix}-missing:1`)).toBe(false);
      expect(await h.engine.inspectImage(`${h.prefix}-missing:1`)).toBeUndefined();
    });

    it('creates, starts, inspects, stops and removes a container', async () => {
      await harness();
      const hostPort = await h.freePort();
      const s = spec({
        env: { GREETING: 'hi' },
        ports: [{ containerPort: 80, hostPort, hostIP: '127.0.0.1' }],
      });
      const id = await h.engine.createContainer(s);
      expect(id).toMatch(/^[0-9a-f]{64}$/);

      const created = await h.engine.inspectContainer(id);
      expect(created).toMatchObject({
        id,
        name: s.name,
        labels: s.labels,
        state: 'created',
        image: h.image,
        imageId: await h.engine.inspectImage(h.image),
        exitCode: 0,
        restartCount: 0,
        ports: [{ containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1', hostPort }],
      });
      expect(created?.startedAt).toBeUndefined();
      expect(created?.ipAddress).toBeUndefined();
      expect(Date.parse(created?.createdAt ?? '')).not.toBeNaN();
      expect(await h.engine.inspectContainer(s.name)).toMatchObject({ id });

      await h.engine.startContainer(id);
      await h.engine.startContainer(id); // already running: a no-op
      const running = await h.engine.inspectContainer(id);
      expect(running).toMatchObject({ state: 'running' });
      expect(running?.ipAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(Date.parse(running?.startedAt ?? '')).not.toBeNaN();

      await h.engine.stopContainer(id, { timeoutSeconds: 1 });
      await h.engine.stopContainer(id, { timeoutSeconds: 1 }); // already stopped: a no-op
      const stopped = await h.engine.inspectContainer(id);
      expect(stopped).toMatchObject({ state: 'exited' });
      expect(stopped?.ipAddress).toBeUndefined();
      expect(Date.parse(stopped?.finishedAt ?? '')).not.toBeNaN();

      await h.engine.removeContainer(id);
      expect(await h.engine.inspectContainer(id)).toBeUndefined();
      await h.engine.removeContainer(id); // already gone: a no-op
      await h.engine.stopContainer(id); // already gone: a no-op
    });

    it('lists only containers carrying every selected label', async () => {
      await harness();
      const a = await h.engine.createContainer(spec({ labels: { 'orun.test/run': h.prefix, role: 'a' } }));
      const b = await h.engine.createContainer(spec({ labels: { 'orun.test/run': h.prefix, role: 'b' } }));
      const ids = async (sel: Record<string, string>): Promise<string[]> =>
        (await h.engine.listContainers(sel)).map((c) => c.id).sort();
      expect(await ids({ 'orun.test/run': h.prefix, role: 'a' })).toEqual([a]);
      expect(await ids({ 'orun.test/run': h.prefix, role: 'b' })).toEqual([b]);
      expect(await ids({ 'orun.test/run': h.prefix, role: 'c' })).toEqual([]);
      expect(await ids({ 'orun.test/run': h.prefix })).toEqual(expect.arrayContaining([a, b].sort()));
      const [listed] = await h.engine.listContainers({ role: 'a', 'orun.test/run': h.prefix });
      expect(listed).toEqual(await h.engine.inspectContainer(a));
    });

    it('rejects a second container with the same name: NameConflict', async () => {
      await harness();
      const s = spec();
      await h.engine.createContainer(s);
      const err = await expectCode(h.engine.createContainer(s), DockerErrorCode.NameConflict);
      expect(err.message).toContain(s.name);
    });

    it('rejects a missing image: ImageNotFound', async () => {
      await harness();
      const err = await expectCode(
        h.engine.createContainer(spec({ image: `${h.prefix}-missing:1` })),
        DockerErrorCode.ImageNotFound,
      );
      expect(err.message).toContain(`${h.prefix}-missing:1`);
    });

    it('creates a missing host path when asked to (createHostPath), as docker -v does', async () => {
      await harness();
      const dir = await mkdtemp(join(tmpdir(), 'orun-contract-bind-'));
      try {
        const hostPath = join(dir, 'made', 'by', 'engine');
        const id = await h.engine.createContainer(
          spec({ binds: [{ hostPath, containerPath: '/data', createHostPath: true }] }),
        );
        expect(id).toMatch(/^[0-9a-f]{64}$/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it.each([
      ['a missing host path', '/nonexistent/orun-contract/data'],
      ['a relative host path', 'relative/data'],
    ])('rejects a bind of %s: InvalidMount, and never creates it', async (_what, hostPath) => {
      await harness();
      const err = await expectCode(
        h.engine.createContainer(spec({ binds: [{ hostPath, containerPath: '/data' }] })),
        DockerErrorCode.InvalidMount,
      );
      expect(err.message).toContain(hostPath);
    });

    it('applies working dir, user and resource limits (blkio weight: applied, or discarded with a warning)', async () => {
      await harness();
      const warnings: string[] = [];
      const limits = {
        workingDir: '/www',
        user: '1234:1234',
        memoryBytes: 64 * 2 ** 20,
        nanoCpus: 500_000_000,
        ulimits: [
          { name: 'nofile', soft: 1024, hard: 2048 },
          { name: 'nproc', soft: 512, hard: 512 },
        ],
        pidsLimit: 100,
        blkioWeight: 300,
      } satisfies Partial<ContainerSpec>;
      const id = await h.engine.createContainer(spec(limits), { onWarning: (w) => warnings.push(w) });
      const { blkioWeight, ...rest } = await h.applied(id);
      expect(rest).toEqual({ ...limits, blkioWeight: undefined, cpuQuota: undefined, cpuPeriod: undefined });
      if (blkioWeight === undefined) expect(warnings.join('\n')).toMatch(/Block I\/O weight/);
      else expect(blkioWeight).toBe(300);
      await h.engine.startContainer(id);
      expect(await h.engine.inspectContainer(id)).toMatchObject({ state: 'running' });
    });

    it('applies a CPU quota with the default 100ms period; rejects it together with nanoCpus', async () => {
      await harness();
      const id = await h.engine.createContainer(spec({ cpuQuota: 50_000 }));
      expect(await h.applied(id)).toMatchObject({
        cpuQuota: 50_000,
        cpuPeriod: 100_000,
        nanoCpus: undefined,
      });
      const err = await expectCode(
        h.engine.createContainer(spec({ cpuQuota: 50_000, nanoCpus: 500_000_000 })),
        DockerErrorCode.InvalidSpec,
      );
      expect(err.message).toContain('Conflicting options');
    });

    it('refuses a configuration it never accepts with the permanent InvalidSpec (a 1 MiB memory limit)', async () => {
      await harness();
      const err = await expectCode(
        h.engine.createContainer(spec({ memoryBytes: 2 ** 20 })),
        DockerErrorCode.InvalidSpec,
      );
      expect(err.message).toContain('Minimum memory limit');
      expect(PERMANENT_DOCKER_ERRORS.has(DockerErrorCode.InvalidSpec)).toBe(true);
    });

    it('creates a named volume on create and keeps it when the container is removed', async () => {
      await harness();
      const name = `${h.prefix}-vol-${++n}`;
      volumes.push(name);
      expect(await h.engine.volumeExists(name)).toBe(false);
      const id = await h.engine.createContainer(
        spec({ volumes: [{ name, containerPath: '/data', labels: { 'orun.test/run': h.prefix } }] }),
      );
      expect(await h.engine.volumeExists(name)).toBe(true);
      await expectCode(h.engine.removeVolume(name), DockerErrorCode.RequestFailed); // in use
      await h.engine.removeContainer(id, { force: true });
      expect(await h.engine.volumeExists(name)).toBe(true);
      await h.engine.removeVolume(name);
      expect(await h.engine.volumeExists(name)).toBe(false);
      await h.engine.removeVolume(name); // already gone: a no-op
    });

    it('joins a user-defined network with DNS aliases; keeps the network while a container runs on it', async () => {
      await harness();
      const net = `${h.prefix}-net-${++n}`;
      expect(await h.engine.inspectNetwork(net)).toBeUndefined();
      await Promise.all([
        h.engine.ensureNetwork(net, { labels: { 'orun.test/run': h.prefix } }),
        h.engine.ensureNetwork(net, { labels: { 'orun.test/run': h.prefix } }),
      ]);
      await h.engine.ensureNetwork(net); // exists: a no-op
      expect(await h.engine.inspectNetwork(net)).toEqual({
        name: net,
        labels: { 'orun.test/run': h.prefix },
      });
      try {
        const id = await h.engine.createContainer(spec({ network: { name: net, aliases: ['web'] } }));
        await h.engine.startContainer(id);
        const info = await h.engine.inspectContainer(id);
        expect(info?.networks?.[net]?.aliases).toContain('web');
        expect(info?.ipAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
        await expectCode(h.engine.removeNetwork(net), DockerErrorCode.RequestFailed);
        await h.engine.removeContainer(id, { force: true });
        const plain = await h.engine.createContainer(spec());
        expect((await h.engine.inspectContainer(plain))?.networks).toBeUndefined();
      } finally {
        await h.engine.removeNetwork(net);
      }
      expect(await h.engine.inspectNetwork(net)).toBeUndefined();
      await h.engine.removeNetwork(net); // already gone: a no-op
    });

    it('rejects a named volume with an invalid name: InvalidMount', async () => {
      await harness();
      const err = await expectCode(
        h.engine.createContainer(spec({ volumes: [{ name: 'bad/name', containerPath: '/data' }] })),
        DockerErrorCode.InvalidMount,
      );
      expect(err.message).toContain('bad/name');
    });

    it('rejects starting a container whose host port is taken: HostPortConflict', async () => {
      await harness();
      const hostPort = await h.freePort();
      const first = await h.engine.createContainer(spec({ ports: [{ containerPort: 80, hostPort }] }));
      const second = await h.engine.createContainer(spec({ ports: [{ containerPort: 80, hostPort }] }));
      await h.engine.startContainer(first);
      const err = await expectCode(h.engine.startContainer(second), DockerErrorCode.HostPortConflict);
      expect(err.message).toContain(String(hostPort));
      expect(await h.engine.inspectContainer(second)).toMatchObject({ state: 'created' });
    });

    it('rejects a pull from an unreachable registry: ImagePullFailed with its message', async () => {
      await harness();
      const started = Date.now();
      const err = await expectCode(
        h.engine.pullImage('example.invalid/x:1'),
        DockerErrorCode.ImagePullFailed,
      );
      expect(err.message).toMatch(/^docker: pull example\.invalid\/x:1: .*example\.invalid/);
      expect(Date.now() - started).toBeLessThan(20_000);
    });

    it('restarts a running container', async () => {
      await harness();
      const id = await h.engine.createContainer(spec());
      await h.engine.startContainer(id);
      const before = await h.engine.inspectContainer(id);
      await new Promise((r) => setTimeout(r, 20)); // start times have millisecond precision or better
      await h.engine.restartContainer(id, { timeoutSeconds: 1 });
      const after = await h.engine.inspectContainer(id);
      expect(after?.state).toBe('running');
      expect(after?.startedAt).not.toBe(before?.startedAt);
    });

    it('removes a running container only with force', async () => {
      await harness();
      const id = await h.engine.createContainer(spec());
      await h.engine.startContainer(id);
      await expectCode(h.engine.removeContainer(id), DockerErrorCode.RequestFailed);
      await h.engine.removeContainer(id, { force: true });
      expect(await h.engine.inspectContainer(id)).toBeUndefined();
    });

    it('follows logs per stream until aborted, and reads them back with tail', async () => {
      await harness();
      const lines: LogLine[] = [
        { stream: 'stdout', line: 'out-1' },
        { stream: 'stderr', line: 'err-1' },
        { stream: 'stdout', line: 'out-2' },
      ];
      const id = await h.engine.createContainer(h.withOutput(spec(), lines));
      await h.engine.startContainer(id);
      const seen = await waitFor(
        (signal) => h.engine.containerLogs(id, { follow: true, signal }),
        (_l, all) => all.length >= 3,
      );
      // Docker keeps order within a stream only: stdout and stderr are separate pipes.
      expect(byStream(seen)).toEqual(byStream(lines));
      expect(byStream(await collect(h.engine.containerLogs(id)))).toEqual(byStream(lines));
      const [last] = await collect(h.engine.containerLogs(id, { tail: 1 }));
      expect(last?.line).toMatch(/^(out-2|err-1)$/);
    });

    it('ends followed logs quietly when the signal aborts', async () => {
      await harness();
      const id = await h.engine.createContainer(spec());
      await h.engine.startContainer(id);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 200);
      const started = Date.now();
      await collect(h.engine.containerLogs(id, { follow: true, signal: ac.signal }));
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('streams events: start and a die with its exit code after a crash', async () => {
      await harness();
      const s = spec();
      const id = await h.engine.createContainer(s);
      const since = new Date(Date.now() - 2000);
      await h.engine.startContainer(id);
      await h.crash(id);
      const seen = await waitFor(
        (signal) =>
          h.engine.events(signal, {
            labels: { 'orun.test/case': s.labels?.['orun.test/case'] ?? '' },
            since,
          }),
        (e: ContainerEvent) => e.action === 'die',
      );
      expect(seen.map((e) => e.action)).toEqual(expect.arrayContaining(['start', 'die']));
      const die = seen.at(-1);
      expect(die).toMatchObject({ id, name: s.name, labels: s.labels, exitCode: 137 });
      expect(die?.timeMs).toBeGreaterThan(since.getTime());
      expect(await h.engine.inspectContainer(id)).toMatchObject({ state: 'exited', exitCode: 137 });
    });

    it('ends an event stream quietly when its signal aborts', async () => {
      await harness();
      const ac = new AbortController();
      const it = h.engine.events(ac.signal, { labels: { 'orun.test/run': `${h.prefix}-none` } });
      setTimeout(() => ac.abort(), 200);
      expect(await collect(it)).toEqual([]);
    });

    describe('buildImage', () => {
      let dir: string;
      const tags: string[] = [];
      afterAll(async () => {
        for (const t of tags) await h.removeImage(t);
        if (dir !== undefined) await rm(dir, { recursive: true, force: true });
      });

      it('builds a tagged image from a context directory', async () => {
        await harness();
        dir = await mkdtemp(join(tmpdir(), 'orun-build-'));
        await writeFile(join(dir, 'index.html'), 'built\n');
        await writeFile(join(dir, 'Dockerfile'), `FROM ${h.image}\nCOPY index.html /www/index.html\n`);
        const tag = `${h.prefix}-built:1`;
        tags.push(tag);
        const progress: string[] = [];
        const id = await h.engine.buildImage({ contextDir: dir, tag, onProgress: (l) => progress.push(l) });
        expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(await h.engine.inspectImage(tag)).toBe(id);
        expect(progress.some((l) => l.startsWith('Step 2/2 : COPY'))).toBe(true);
      });

      it('rejects a failing step: ImageBuildFailed naming the step', async () => {
        await harness();
        const bad = await mkdtemp(join(tmpdir(), 'orun-build-'));
        try {
          await writeFile(join(bad, 'Dockerfile.web'), `FROM ${h.image}\nCOPY missing.txt /www/\n`);
          const tag = `${h.prefix}-broken:1`;
          tags.push(tag);
          const err = await expectCode(
            h.engine.buildImage({ contextDir: bad, dockerfile: 'Dockerfile.web', tag }),
            DockerErrorCode.ImageBuildFailed,
          );
          expect(err.message).toContain('Step 2/2 : COPY missing.txt /www/');
          expect(err.message).toContain('missing.txt');
        } finally {
          await rm(bad, { recursive: true, force: true });
        }
      });

      it('rejects a missing context directory: ImageBuildFailed', async () => {
        await harness();
        await expectCode(
          h.engine.buildImage({ contextDir: '/nonexistent/orun-ctx', tag: `${h.prefix}-none:1` }),
          DockerErrorCode.ImageBuildFailed,
        );
      });
    });
  });
}

function byStream(lines: readonly LogLine[]): Record<string, string[]> {
  return {
    stdout: lines.filter((l) => l.stream === 'stdout').map((l) => l.line),
    stderr: lines.filter((l) => l.stream === 'stderr').map((l) => l.line),
  };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/**
 * The ContainerEngine contract against the real dockerd, plus what only a real engine can show:
 * a probe reaching busybox httpd through the container's bridge IP, and a bind mount's content.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DockerEngine } from '../../runtime/docker/dockerode.ts';
import { describeEngineContract, waitFor, type EngineHarness } from '../../runtime/docker/engine.contract.ts';
import { parseHttpProbe } from '../../apis/run.orcra.dev/v0alpha/probe.ts';
import { probeHTTP } from '../../runtime/probe/http.ts';
import { TEST_IMAGE, requireTestImage } from '../support/services.ts';

const prefix = `orun-t-docker-${randomBytes(4).toString('hex')}`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '0.0.0.0', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function realHarness(): EngineHarness {
  requireTestImage();
  const engine = new DockerEngine();
  return {
    engine,
    image: TEST_IMAGE,
    prefix,
    freePort,
    withOutput: (spec, lines) => ({
      ...spec,
      cmd: [
        'sh',
        '-c',
        [...lines.map((l) => `echo ${l.line}${l.stream === 'stderr' ? ' >&2' : ''}`), 'exec sleep 300'].join(
          '; ',
        ),
      ],
    }),
    crash: async (id) => {
      await engine.client.getContainer(id).kill({ signal: 'SIGKILL' });
    },
    removeImage: async (ref) => {
      try {
        await engine.client.getImage(ref).remove({ force: true });
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      }
    },
    applied: async (id) => {
      const i = await engine.client.getContainer(id).inspect();
      const hc = i.HostConfig;
      const set = (n: number | undefined | null): number | undefined => (n ? n : undefined);
      return {
        workingDir: i.Config.WorkingDir || undefined,
        user: i.Config.User || undefined,
        memoryBytes: set(hc.Memory),
        nanoCpus: set(hc.NanoCpus),
        cpuQuota: set(hc.CpuQuota),
        cpuPeriod: set(hc.CpuPeriod),
        ulimits: hc.Ulimits?.map((u) => ({
          name: u.Name as 'nofile' | 'nproc',
          soft: u.Soft ?? -1,
          hard: u.Hard ?? -1,
        })),
        pidsLimit: set(hc.PidsLimit),
        blkioWeight: set(hc.BlkioWeight),
      };
    },
  };
}

describeEngineContract('dockerd', async () => Promise.resolve(realHarness()));

describe('DockerEngine against dockerd', () => {
  // Built inside each test (not in beforeAll) so a missing dockerd fails every test by name.
  let h: EngineHarness | undefined;
  const real = (): EngineHarness => (h ??= realHarness());
  const names: string[] = [];
  let dataDir: string | undefined;

  afterAll(async () => {
    for (const n of names) await h?.engine.removeContainer(n, { force: true });
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it('probes busybox httpd through the container bridge IP (the manifest says localhost:80/health)', async () => {
    const name = `${prefix}-probe`;
    names.push(name);
    const id = await real().engine.createContainer({
      name,
      image: TEST_IMAGE,
      labels: { 'orun.test/run': prefix },
    });
    await real().engine.startContainer(id);
    const info = await real().engine.inspectContainer(id);
    const target = parseHttpProbe('localhost:80/health') ?? { port: 0, path: '' };
    expect(info?.ipAddress).toBeDefined();
    let result = await probeHTTP({ host: info?.ipAddress ?? '', port: target.port, path: target.path });
    for (let i = 0; i < 50 && !result.ok; i++) {
      // httpd needs a moment after start; this loop is the test waiting, not product logic.
      await new Promise((r) => setTimeout(r, 100));
      result = await probeHTTP({ host: info?.ipAddress ?? '', port: target.port, path: target.path });
    }
    expect(result).toMatchObject({ ok: true, statusCode: 200 });
    const missing = await probeHTTP({ host: info?.ipAddress ?? '', port: 80, path: '/nope' });
    expect(missing).toMatchObject({ ok: false, statusCode: 404 });
  });

  it('mounts an existing host path read-only', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'orun-bind-'));
    await writeFile(join(dataDir, 'hello.txt'), 'from-host\n');
    const name = `${prefix}-bind`;
    names.push(name);
    const id = await real().engine.createContainer({
      name,
      image: TEST_IMAGE,
      labels: { 'orun.test/run': prefix },
      cmd: [
        'sh',
        '-c',
        'cat /data/hello.txt; touch /data/x 2>/dev/null || echo read-only >&2; exec sleep 300',
      ],
      binds: [{ hostPath: dataDir, containerPath: '/data', readOnly: true }],
    });
    await real().engine.startContainer(id);
    const seen = await waitFor(
      (signal) => real().engine.containerLogs(id, { follow: true, signal }),
      (_l, all) => all.length >= 2,
    );
    expect(seen).toEqual(
      expect.arrayContaining([
        { stream: 'stdout', line: 'from-host' },
        { stream: 'stderr', line: 'read-only' },
      ]),
    );
  });

  it('publishes the host port so the app answers on it', async () => {
    const name = `${prefix}-port`;
    names.push(name);
    const hostPort = await freePort();
    const id = await real().engine.createContainer({
      name,
      image: TEST_IMAGE,
      labels: { 'orun.test/run': prefix },
      ports: [{ containerPort: 80, hostPort }],
    });
    await real().engine.startContainer(id);
    let result = await probeHTTP({ host: '127.0.0.1', port: hostPort, path: '/health' });
    for (let i = 0; i < 50 && !result.ok; i++) {
      await new Promise((r) => setTimeout(r, 100));
      result = await probeHTTP({ host: '127.0.0.1', port: hostPort, path: '/health' });
    }
    expect(result).toMatchObject({ ok: true, statusCode: 200 });
    expect((await real().engine.inspectContainer(id))?.ports).toEqual([
      { containerPort: 80, protocol: 'tcp', hostIP: '0.0.0.0', hostPort },
    ]);
  });

  it('passes build args to the Dockerfile', async () => {
    const engine = real().engine;
    const ctx = await mkdtemp(join(tmpdir(), 'orun-build-args-'));
    const tag = `${prefix}-args:1`;
    try {
      await writeFile(
        join(ctx, 'Dockerfile'),
        `FROM ${TEST_IMAGE}\nARG MSG=unset\nRUN echo "$MSG" > /www/msg\n`,
      );
      await engine.buildImage({ contextDir: ctx, tag, buildArgs: { MSG: 'hello-arg' } });
      const name = `${prefix}-args`;
      names.push(name);
      const id = await engine.createContainer({
        name,
        image: tag,
        labels: { 'orun.test/run': prefix },
        cmd: ['sh', '-c', 'cat /www/msg; exec sleep 300'],
      });
      await engine.startContainer(id);
      const seen = await waitFor(
        (signal) => engine.containerLogs(id, { follow: true, signal }),
        (l) => l.line === 'hello-arg',
      );
      expect(seen.at(-1)).toEqual({ stream: 'stdout', line: 'hello-arg' });
      await engine.removeContainer(id, { force: true });
    } finally {
      await rm(ctx, { recursive: true, force: true });
      await real().removeImage(tag);
    }
  });

  it('runs as the given user in the given working dir, with the ulimits set', async () => {
    const name = `${prefix}-user`;
    names.push(name);
    const engine = real().engine;
    const id = await engine.createContainer({
      name,
      image: TEST_IMAGE,
      labels: { 'orun.test/run': prefix },
      user: '1234:1234',
      workingDir: '/www',
      ulimits: [{ name: 'nofile', soft: 1500, hard: 1500 }],
      cmd: ['sh', '-c', 'echo "uid=$(id -u) gid=$(id -g) pwd=$(pwd) nofile=$(ulimit -n)"; exec sleep 300'],
    });
    await engine.startContainer(id);
    const seen = await waitFor(
      (signal) => engine.containerLogs(id, { follow: true, signal }),
      (l) => l.line.startsWith('uid='),
    );
    expect(seen.at(-1)).toEqual({ stream: 'stdout', line: 'uid=1234 gid=1234 pwd=/www nofile=1500' });
  });

  it('keeps a named volume and its data across container removal', async () => {
    const engine = real().engine;
    const volume = `${prefix}-data`;
    const run = async (suffix: string, script: string): Promise<string> => {
      const name = `${prefix}-${suffix}`;
      names.push(name);
      const id = await engine.createContainer({
        name,
        image: TEST_IMAGE,
        labels: { 'orun.test/run': prefix },
        volumes: [{ name: volume, containerPath: '/data', labels: { 'orun.test/run': prefix } }],
        cmd: ['sh', '-c', `${script}; exec sleep 300`],
      });
      await engine.startContainer(id);
      const seen = await waitFor(
        (signal) => engine.containerLogs(id, { follow: true, signal }),
        (l) => l.line.startsWith('data='),
      );
      await engine.removeContainer(id, { force: true });
      return seen.at(-1)?.line ?? '';
    };
    try {
      expect(await run('vol-1', 'echo kept > /data/f; echo "data=$(cat /data/f)"')).toBe('data=kept');
      expect(await engine.volumeExists(volume)).toBe(true);
      const labels = (await new DockerEngine().client.getVolume(volume).inspect()).Labels;
      expect(labels).toEqual({ 'orun.test/run': prefix });
      expect(await run('vol-2', 'echo "data=$(cat /data/f)"')).toBe('data=kept');
    } finally {
      await engine.removeVolume(volume);
    }
    expect(await engine.volumeExists(volume)).toBe(false);
  });

  it('uses the configured socket path', async () => {
    real();
    await new DockerEngine({ socketPath: '/var/run/docker.sock' }).ping();
  });

  it('reports an unreachable socket as DockerUnavailable', async () => {
    const engine = new DockerEngine({ socketPath: '/nonexistent/docker.sock' });
    await expect(engine.ping()).rejects.toMatchObject({ code: 'DockerUnavailable' });
  });
});

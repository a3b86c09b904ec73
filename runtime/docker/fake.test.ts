import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { OrunError } from '../../apis/errors.ts';
import { parseHttpProbe } from '../../apis/run.orcra.dev/v0alpha/probe.ts';
import { probeHTTP } from '../probe/http.ts';
import { DockerErrorCode } from './engine.ts';
import { describeEngineContract, expectCode, waitFor } from './engine.contract.ts';
import { BLKIO_DISCARDED_WARNING, FakeEngine } from './fake.ts';

const image = 'orun-test/busybox:1';

describeEngineContract('fake', async () => {
  const engine = new FakeEngine({ images: [image] });
  // What busybox answers for the commands the contract runs.
  engine.setExecHandler((_c, cmd) =>
    cmd[0] === 'echo'
      ? { exitCode: 0, output: `${cmd.slice(1).join(' ')}\n`, timedOut: false }
      : { exitCode: cmd[0] === 'false' ? 1 : 0, output: '', timedOut: false },
  );
  let port = 20_000;
  return Promise.resolve({
    engine,
    image,
    prefix: `orun-t-fake-${randomBytes(4).toString('hex')}`,
    freePort: () => Promise.resolve(port++),
    withOutput: (spec, lines) => {
      engine.setOutput(spec.name, lines);
      return spec;
    },
    crash: (id) => Promise.resolve(engine.crash(id, 137)),
    removeImage: (ref) => Promise.resolve(engine.removeImage(ref)),
    applied: (id) => {
      const s = engine.specOf(id);
      return Promise.resolve({
        workingDir: s?.workingDir,
        user: s?.user,
        memoryBytes: s?.memoryBytes,
        nanoCpus: s?.nanoCpus,
        cpuQuota: s?.cpuQuota,
        cpuPeriod: s?.cpuPeriod ?? (s?.cpuQuota === undefined ? undefined : 100_000),
        ulimits: s?.ulimits,
        pidsLimit: s?.pidsLimit,
        blkioWeight: s?.blkioWeight,
      });
    },
  });
});

describe('FakeEngine knobs', () => {
  it.each([
    ['applied', 500, []],
    ['discarded', undefined, [BLKIO_DISCARDED_WARNING]],
  ] as const)('blkioWeight %s: recorded as %s with warnings %j', async (mode, recorded, warnings) => {
    const engine = new FakeEngine({ images: [image], blkioWeight: mode });
    const seen: string[] = [];
    const id = await engine.createContainer(
      {
        name: 'io',
        image,
        blkioWeight: 500,
        memoryBytes: 64 * 2 ** 20,
        volumes: [{ name: 'p_data', containerPath: '/d' }],
      },
      { onWarning: (w) => seen.push(w) },
    );
    expect(engine.specOf(id)).toMatchObject({
      memoryBytes: 64 * 2 ** 20,
      volumes: [{ name: 'p_data', containerPath: '/d' }],
    });
    expect(engine.specOf(id)?.blkioWeight).toBe(recorded);
    expect(seen).toEqual(warnings);
  });

  it('blkioWeight rejected: ContainerResourceUnsupported naming the resource, nothing created', async () => {
    const engine = new FakeEngine({ images: [image], blkioWeight: 'rejected' });
    const err = await expectCode(
      engine.createContainer({
        name: 'io',
        image,
        blkioWeight: 500,
        volumes: [{ name: 'v1', containerPath: '/d' }],
      }),
      DockerErrorCode.ResourceUnsupported,
    );
    expect(err).toMatchObject({ context: { resource: 'blkioWeight' } });
    expect(await engine.inspectContainer('io')).toBeUndefined();
    expect(await engine.volumeExists('v1')).toBe(false);
    await engine.createContainer({ name: 'io', image });
  });

  it('labels a named volume when it creates it, and keeps an existing one', async () => {
    const engine = new FakeEngine({ images: [image] });
    await engine.createContainer({
      name: 'a',
      image,
      volumes: [{ name: 'v', containerPath: '/d', labels: { k: '1' } }],
    });
    await engine.createContainer({
      name: 'b',
      image,
      volumes: [{ name: 'v', containerPath: '/d', labels: { k: '2' } }],
    });
    expect(engine.volumeLabels('v')).toEqual({ k: '1' });
    expect(engine.volumeLabels('w')).toBeUndefined();
  });

  const spec = { name: 'web', image, labels: { app: 'web' } };

  it('pulls only what its registry holds, and fails scripted pulls with the given message', async () => {
    const engine = new FakeEngine({ registry: ['example.com/app:2'] });
    await engine.pullImage('example.com/app:2');
    expect(await engine.imageExists('example.com/app:2')).toBe(true);
    engine.failPull('example.com/app:2', 'toomanyrequests: rate limit');
    const err = await expectCode(engine.pullImage('example.com/app:2'), DockerErrorCode.ImagePullFailed);
    expect(err.message).toBe('docker: pull example.com/app:2: toomanyrequests: rate limit');
  });

  it('treats a ref without a tag as :latest', async () => {
    const engine = new FakeEngine({ images: ['nginx'] });
    expect(await engine.imageExists('nginx:latest')).toBe(true);
    expect(await engine.imageExists('nginx:1')).toBe(false);
  });

  it('crashes and OOM-kills containers, emitting oom then die', async () => {
    const engine = new FakeEngine({ images: [image] });
    const id = await engine.createContainer(spec);
    await engine.startContainer(id);
    engine.crash(id, 0, { oom: true });
    expect(await engine.inspectContainer(id)).toMatchObject({
      state: 'exited',
      exitCode: 137,
      oomKilled: true,
    });
    expect(engine.eventLog.map((e) => e.action)).toEqual(['create', 'start', 'oom', 'die']);
  });

  it('rejects the next call with an injected error, once', async () => {
    const engine = new FakeEngine({ images: [image] });
    engine.injectError('createContainer', new OrunError(DockerErrorCode.RequestFailed, 'boom'));
    await expectCode(engine.createContainer(spec), DockerErrorCode.RequestFailed);
    await engine.createContainer(spec);
    expect(engine.calls.filter((c) => c.method === 'createContainer')).toHaveLength(2);
  });

  it('is unavailable while down', async () => {
    const engine = new FakeEngine();
    engine.setDown(true);
    await expectCode(engine.ping(), DockerErrorCode.Unavailable);
    engine.setDown(false);
    await engine.ping();
  });

  it('holds reserved host ports as taken', async () => {
    const engine = new FakeEngine({ images: [image] });
    engine.reservePort(8080);
    const id = await engine.createContainer({ ...spec, ports: [{ containerPort: 80, hostPort: 8080 }] });
    await expectCode(engine.startContainer(id), DockerErrorCode.HostPortConflict);
  });

  it('keeps the env of the spec, normalized to K=V', async () => {
    const engine = new FakeEngine({ images: [image] });
    await engine.createContainer({ ...spec, env: { A: '1', B: 'x=y' } });
    expect(engine.specOf('web')?.env).toEqual(['A=1', 'B=x=y']);
  });

  it('ends followed logs when the container stops, and streams lines written later', async () => {
    const engine = new FakeEngine({ images: [image] });
    const id = await engine.createContainer(spec);
    await engine.startContainer(id);
    const seen = waitFor(
      (signal) => engine.containerLogs(id, { follow: true, signal }),
      (l) => l.line === 'later',
    );
    engine.writeLog(id, 'stderr', 'later');
    expect(await seen).toEqual([{ stream: 'stderr', line: 'later' }]);
  });

  it('lets a probe reach a local server through a container IP set by the test', async () => {
    const server = http.createServer((req, res) => res.writeHead(req.url === '/health' ? 200 : 404).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const engine = new FakeEngine({ images: [image] });
      const id = await engine.createContainer(spec);
      engine.setIPAddress('web', '127.0.0.1');
      await engine.startContainer(id);
      const info = await engine.inspectContainer(id);
      const { path } = parseHttpProbe('localhost:80/health') ?? { path: '' };
      const port = (server.address() as AddressInfo).port;
      expect(await probeHTTP({ host: info?.ipAddress ?? '', port, path })).toMatchObject({
        ok: true,
        statusCode: 200,
      });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

import { describe, expect, it } from 'vitest';
import { parseOrchfiles, type OrchService } from '../../apis/orchfile/index.ts';
import { FakeClock } from '../clock/index.ts';
import { BLKIO_DISCARDED_WARNING, FakeEngine, type FakeEngineOptions } from '../docker/fake.ts';
import { ContainerDriver, containerFields, CPU_PERIOD_US, type ContainerFields } from './container.ts';
import { prepareService, type PreparedService } from './prepare.ts';

const IMAGE = 'orun-test/busybox:1';

function prepared(directives: string, patch: Partial<OrchService> = {}): PreparedService {
  const r = parseOrchfiles([{ path: 'Orchfile', text: `SERVICE web\nFROM ${IMAGE}\n${directives}\n` }]);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
  const spec = { ...r.graph.services[0]!, ...patch };
  return prepareService(spec, { vars: { ORCH_PROJECT: '/srv/proj' }, readFile: () => '' });
}

describe('containerFields', () => {
  it.each<[string, string, ContainerFields]>([
    ['nothing', '', { binds: [] }],
    ['MEMORY 512M', 'MEMORY 512M', { binds: [], memoryBytes: 512 * 2 ** 20 }],
    ['MEMORY 4G', 'MEMORY 4G', { binds: [], memoryBytes: 4 * 2 ** 30 }],
    ['MEMORY 64K', 'MEMORY 64K', { binds: [], memoryBytes: 64 * 1024 }],
    ['CPUS 2', 'CPUS 2', { binds: [], nanoCpus: 2_000_000_000 }],
    ['CPUS 0.5', 'CPUS 0.5', { binds: [], nanoCpus: 500_000_000 }],
    ['CPU_QUOTA 50%', 'CPU_QUOTA 50%', { binds: [], cpuQuota: 50_000, cpuPeriod: CPU_PERIOD_US }],
    ['CPU_QUOTA 200%', 'CPU_QUOTA 200%', { binds: [], cpuQuota: 200_000, cpuPeriod: CPU_PERIOD_US }],
    [
      'CPU_QUOTA wins over CPUS',
      'CPUS 4\nCPU_QUOTA 25%',
      { binds: [], cpuQuota: 25_000, cpuPeriod: CPU_PERIOD_US },
    ],
    [
      'LIMIT_NOFILE (soft = hard)',
      'LIMIT_NOFILE 65536',
      { binds: [], ulimits: [{ name: 'nofile', soft: 65536, hard: 65536 }] },
    ],
    [
      'LIMIT_NOFILE and LIMIT_NPROC',
      'LIMIT_NPROC 4096\nLIMIT_NOFILE 1024',
      {
        binds: [],
        ulimits: [
          { name: 'nofile', soft: 1024, hard: 1024 },
          { name: 'nproc', soft: 4096, hard: 4096 },
        ],
      },
    ],
    ['TASKS_MAX', 'TASKS_MAX 4096', { binds: [], pidsLimit: 4096 }],
    ['IO_WEIGHT', 'IO_WEIGHT 500', { binds: [], blkioWeight: 500 }],
    ['WORKDIR absolute', 'WORKDIR /app', { binds: [], workingDir: '/app' }],
    ['WORKDIR with a variable', 'WORKDIR /srv/${SERVICE_NAME}', { binds: [], workingDir: '/srv/web' }],
    [
      'VOLUME named → <project>_<name>',
      'VOLUME data:/var/lib/data',
      {
        binds: [],
        volumes: [{ name: 'proj_data', containerPath: '/var/lib/data', labels: { 'orch.project': 'proj' } }],
      },
    ],
    [
      'VOLUME paths stay binds (relative against ORCH_PROJECT)',
      'VOLUME /abs/x:/x\nVOLUME ./rel:/r\nVOLUME ${ORCH_DATA}/pg:/pg',
      {
        binds: [
          { hostPath: '/abs/x', containerPath: '/x' },
          { hostPath: '/srv/proj/rel', containerPath: '/r' },
          { hostPath: '/srv/proj/.orch/data/pg', containerPath: '/pg' },
        ],
      },
    ],
  ])('%s', (_what, directives, expected) => {
    const { fields, unsupported } = containerFields(prepared(directives), 'proj', { 'orch.project': 'proj' });
    expect(fields).toEqual(expected);
    expect(unsupported).toEqual([]);
  });

  it('maps USER (only reachable from a spec built in code: the parser allows USER only with RUN)', () => {
    expect(containerFields(prepared('', { user: '1000:1000' }), 'proj').fields.user).toBe('1000:1000');
  });

  it('warns about a relative WORKDIR and leaves the image default', () => {
    const { fields, unsupported } = containerFields(prepared('WORKDIR backend/canary'), 'proj');
    expect(fields.workingDir).toBeUndefined();
    expect(unsupported).toEqual([expect.stringContaining('WORKDIR backend/canary not applied')]);
  });

  it('labels named volumes only when given labels', () => {
    const { fields } = containerFields(prepared('VOLUME data:/d'), 'p');
    expect(fields.volumes).toEqual([{ name: 'p_data', containerPath: '/d' }]);
  });
});

describe('ContainerDriver', () => {
  function driver(
    engineOptions: FakeEngineOptions = {},
    labels?: Record<string, string>,
    shared?: FakeEngine,
  ) {
    const clock = new FakeClock();
    const engine = shared ?? new FakeEngine({ images: [IMAGE], now: () => clock.now(), ...engineOptions });
    const warnings: string[] = [];
    const d = new ContainerDriver({
      engine,
      clock,
      project: 'proj',
      containerName: (s) => `proj-${s}`,
      warn: (service, message) => warnings.push(`${service}: ${message}`),
      ...(labels === undefined ? {} : { labels }),
    });
    return { d, engine, warnings };
  }
  const ALL = `
MEMORY 512M
CPUS 1.5
LIMIT_NOFILE 4096
LIMIT_NPROC 512
TASKS_MAX 100
IO_WEIGHT 300
WORKDIR /www
VOLUME data:/data
VOLUME /srv:/srv
`;

  it('creates the container with every directive applied and no warning', async () => {
    const t = driver();
    const inst = await t.d.start(prepared(ALL));
    expect(t.engine.specOf(inst.containerId!)).toMatchObject({
      memoryBytes: 512 * 2 ** 20,
      nanoCpus: 1_500_000_000,
      ulimits: [
        { name: 'nofile', soft: 4096, hard: 4096 },
        { name: 'nproc', soft: 512, hard: 512 },
      ],
      pidsLimit: 100,
      blkioWeight: 300,
      workingDir: '/www',
      binds: [{ hostPath: '/srv', containerPath: '/srv' }],
      volumes: [
        {
          name: 'proj_data',
          containerPath: '/data',
          labels: { 'run.orcra.dev/managed-by': 'orch', 'orch.project': 'proj' },
        },
      ],
    });
    expect(await t.engine.volumeExists('proj_data')).toBe(true);
    expect(t.warnings).toEqual([]);
    await t.engine.removeContainer(inst.containerId!, { force: true });
    expect(await t.engine.volumeExists('proj_data')).toBe(true);
  });

  it('passes the engine warning on when the host discards IO_WEIGHT', async () => {
    const t = driver({ blkioWeight: 'discarded' });
    const inst = await t.d.start(prepared('IO_WEIGHT 300'));
    expect(t.engine.specOf(inst.containerId!)?.blkioWeight).toBeUndefined();
    expect(t.warnings).toEqual([`web: docker: ${BLKIO_DISCARDED_WARNING}`]);
  });

  it('creates the container without IO_WEIGHT, with a warning, when the engine rejects it', async () => {
    const t = driver({ blkioWeight: 'rejected' });
    const inst = await t.d.start(prepared('IO_WEIGHT 300\nMEMORY 64M'));
    expect(t.engine.specOf(inst.containerId!)).toMatchObject({ memoryBytes: 64 * 2 ** 20 });
    expect(t.engine.specOf(inst.containerId!)?.blkioWeight).toBeUndefined();
    expect((await t.engine.inspectContainer(inst.containerId!))?.state).toBe('running');
    expect(t.warnings).toEqual([
      expect.stringMatching(/^web: IO_WEIGHT not applied \(the engine cannot set it\): docker: .*io\.weight/),
    ]);
  });

  it('keeps the config hash of a service without the new directives (no spurious recreate)', async () => {
    const t = driver();
    const inst = await t.d.start(prepared('PUBLISH 8080:80'));
    const spec = t.engine.specOf(inst.containerId!)!;
    expect(Object.keys(spec).sort()).toEqual(
      ['binds', 'env', 'image', 'labels', 'name', 'network', 'ports', 'stopTimeoutSeconds'].sort(),
    );
  });

  it("never removes another agent's container of the same name (its node label differs): NameConflict", async () => {
    const a = driver({}, { 'run.orcra.dev/node': 'edge-a' });
    const first = await a.d.start(prepared('RECREATE always'));
    const b = driver({}, { 'run.orcra.dev/node': 'edge-b' }, a.engine);
    await expect(b.d.start(prepared('RECREATE always'))).rejects.toMatchObject({
      code: 'NameConflict',
      context: { container: 'proj-web', label: 'run.orcra.dev/node', owner: 'edge-a' },
    });
    expect((await a.engine.inspectContainer('proj-web'))?.id).toBe(first.containerId);
    // The same owner still recreates its own (RECREATE always).
    const again = await driver({}, { 'run.orcra.dev/node': 'edge-a' }, a.engine).d.start(
      prepared('RECREATE always'),
    );
    expect(again.containerId).not.toBe(first.containerId);
  });

  it('joins the project network <project>_default with the service name as a DNS alias', async () => {
    const t = driver();
    const inst = await t.d.start(prepared('PUBLISH 8080:80'));
    expect(t.engine.specOf(inst.containerId!)?.network).toEqual({ name: 'proj_default', aliases: ['web'] });
    expect(await t.engine.inspectNetwork('proj_default')).toEqual({
      name: 'proj_default',
      labels: { 'run.orcra.dev/managed-by': 'orch', 'orch.project': 'proj' },
    });
  });
});

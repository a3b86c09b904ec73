/**
 * Orchfile conformance: every directive, constraint, merge rule and error message of the spec and
 * of DESIGN.md §5, through the library API. CLI behaviour is in cli.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatJSON } from '../../apis/orchfile/index.ts';
import { errorsOf, expectGolden, FIXTURES, graphOf, serviceOf } from './support.ts';

const c = (body: string): string => `SERVICE x\nFROM img\n${body}\n`;
const h = (body: string): string => `SERVICE x\nRUN cmd\n${body}\n`;

describe('the spec example', () => {
  it('parses to the expected JSON', () => {
    const text = readFileSync(join(FIXTURES, 'spec-example.orch'), 'utf8');
    const json = formatJSON(graphOf(text)) + '\n';
    expectGolden('spec-example.json', json);
    const parsed = JSON.parse(json) as { services: { name: string }[] };
    expect(parsed.services.map((s) => s.name)).toEqual(['postgres', 'redis', 'django', 'db-migrate']);
  });
});

describe('lines', () => {
  it('ignores blank lines and whole-line comments, and allows indentation', () => {
    const g = graphOf('# top\n\n   # indented comment\nARG a=1\n\tSERVICE x\n    FROM img  \n');
    expect(g.services).toHaveLength(1);
    expect(g.services[0]!.image).toBe('img');
    expect(g.args).toEqual({ a: '1' });
  });
  it('keeps a trailing # as part of the value', () => {
    expect(serviceOf(c('CMD run # not a comment')).cmd).toBe('run # not a comment');
  });
  it('accepts CRLF line endings', () => {
    expect(serviceOf('SERVICE x\r\nFROM img\r\n').image).toBe('img');
  });
  it('parses an empty file to an empty graph', () => {
    expect(graphOf('')).toEqual({ version: '1.0.0-rc', args: {}, services: [] });
  });
});

describe('directives', () => {
  it.each([
    ['FROM', c(''), { image: 'img', mode: 'container' }],
    [
      'RUN',
      'SERVICE x\nRUN python manage.py runserver 0.0.0.0:9090\n',
      { mode: 'host', runCommand: 'python manage.py runserver 0.0.0.0:9090' },
    ],
    ['ENTRYPOINT', c('ENTRYPOINT /usr/sbin/nginx'), { entrypoint: '/usr/sbin/nginx' }],
    ['CMD', c("CMD -g 'daemon off;'"), { cmd: "-g 'daemon off;'" }],
    ['USER', h('USER www-data'), { user: 'www-data' }],
    [
      'STOP',
      h('STOP kill -SIGTERM $(cat /var/run/myapp.pid)'),
      { stopCommand: 'kill -SIGTERM $(cat /var/run/myapp.pid)' },
    ],
    ['RELOAD', h('RELOAD kill -SIGHUP $MAINPID'), { reloadCommand: 'kill -SIGHUP $MAINPID' }],
    ['WORKDIR', h('WORKDIR backend/canary'), { workdir: 'backend/canary' }],
    [
      'HEALTHCHECK command',
      c('HEALTHCHECK pg_isready -h localhost'),
      { healthcheck: 'pg_isready -h localhost' },
    ],
    [
      'HEALTHCHECK url',
      c('HEALTHCHECK https://localhost:8000/health'),
      { healthcheck: 'https://localhost:8000/health' },
    ],
    ['READINESS_TIMEOUT', c('READINESS_TIMEOUT 120s'), { readinessTimeout: '120s' }],
    ['ONESHOT', c('ONESHOT true'), { oneshot: true }],
    ['DISABLED', c('DISABLED true'), { disabled: true }],
    ['RECREATE', c('RECREATE always'), { recreate: 'always' }],
  ])('%s', (_name, text, expected) => {
    expect(serviceOf(text)).toMatchObject(expected);
  });

  it.each([
    ['RESTART', 'RESTART on-failure', { restart: { policy: 'on-failure' } }],
    ['RESTART_DELAY', 'RESTART_DELAY 1m', { restart: { delay: '1m' } }],
    ['START_LIMIT_BURST', 'START_LIMIT_BURST 5', { restart: { startLimitBurst: 5 } }],
    ['START_LIMIT_INTERVAL', 'START_LIMIT_INTERVAL 10s', { restart: { startLimitInterval: '10s' } }],
    ['TIMEOUT_START', 'TIMEOUT_START 5m', { timeouts: { start: '5m' } }],
    ['TIMEOUT_STOP', 'TIMEOUT_STOP 10s', { timeouts: { stop: '10s' } }],
    ['MEMORY', 'MEMORY 512M', { resources: { memory: '512M' } }],
    ['CPUS', 'CPUS 0.5', { resources: { cpus: 0.5 } }],
    ['CPU_QUOTA', 'CPU_QUOTA 200%', { resources: { cpuQuota: '200%' } }],
    ['LIMIT_NOFILE', 'LIMIT_NOFILE 65536', { resources: { limitNofile: 65536 } }],
    ['LIMIT_NPROC', 'LIMIT_NPROC 4096', { resources: { limitNproc: 4096 } }],
    ['TASKS_MAX', 'TASKS_MAX 4096', { resources: { tasksMax: 4096 } }],
    ['IO_WEIGHT', 'IO_WEIGHT 500', { resources: { ioWeight: 500 } }],
    [
      'STDOUT',
      'STDOUT ${ORCH_STATE_DIR}/logs/myapp.log',
      { logging: { stdout: '${ORCH_STATE_DIR}/logs/myapp.log' } },
    ],
    ['STDERR', 'STDERR /var/log/myapp.err', { logging: { stderr: '/var/log/myapp.err' } }],
  ])('%s (common to both modes)', (_name, line, expected) => {
    expect(serviceOf(c(line))).toMatchObject(expected);
    expect(serviceOf(h(line))).toMatchObject(expected);
  });

  it('applies the defaults', () => {
    expect(serviceOf(c(''))).toMatchObject({
      oneshot: false,
      disabled: false,
      recreate: 'never',
      restart: { policy: 'no' },
      publish: [],
      volumes: [],
      env: {},
    });
  });

  it.each([
    ['5433:5432', { host: 5433, container: 5432 }],
    ['127.0.0.1:8080:80', { address: '127.0.0.1', host: 8080, container: 80 }],
    ['::1:8080:80', { address: '::1', host: 8080, container: 80 }],
    ['[::1]:8080:80', { address: '[::1]', host: 8080, container: 80 }],
    ['localhost:1:65535', { address: 'localhost', host: 1, container: 65535 }],
  ])('PUBLISH %s', (value, expected) => {
    expect(serviceOf(c(`PUBLISH ${value}`)).publish).toEqual([expected]);
  });

  it.each([
    ['/host/path:/container/path', false],
    ['./rel:/data', false],
    ['../up:/data', false],
    ['${ORCH_DATA}/postgres:/var/lib/postgresql/data', false],
    ['my-named-volume:/var/lib/data', true],
  ])('VOLUME %s (named: %s)', (value, isNamed) => {
    const [source, ...rest] = value.split(':');
    expect(serviceOf(c(`VOLUME ${value}`)).volumes).toEqual([
      { source, destination: rest.join(':'), isNamed },
    ]);
  });

  it('ENV splits on the first = and keeps file order', () => {
    const s = serviceOf(c('ENV Z=1\nENV URL=postgres://h:5432/db?sslmode=require\nENV A=\nENV Z=2'));
    expect(Object.entries(s.env)).toEqual([
      ['Z', '2'],
      ['URL', 'postgres://h:5432/db?sslmode=require'],
      ['A', ''],
    ]);
  });

  it('ENV_FILE, REQUIRES and AFTER collect in order, several names per line', () => {
    const g = graphOf(
      'SERVICE db\nFROM pg\nSERVICE redis\nFROM r\nSERVICE app\nRUN x\nENV_FILE a.env\nENV_FILE b.env\nREQUIRES db redis\nAFTER localstack\nAFTER db',
    );
    expect(g.services[2]).toMatchObject({
      envFiles: ['a.env', 'b.env'],
      requires: ['db', 'redis'],
      after: ['localstack', 'db'],
    });
  });

  it('ORCH_VERSION of this spec is accepted', () => {
    expect(graphOf('ORCH_VERSION 1.0.0-rc\nSERVICE x\nFROM img').version).toBe('1.0.0-rc');
  });

  it('accepts service names up to 63 characters', () => {
    expect(serviceOf(`SERVICE ${'a'.repeat(63)}\nFROM img`).name).toHaveLength(63);
  });
});

describe('ARGs', () => {
  const text =
    'ARG port=8080\nARG tag=15\nSERVICE web\nFROM nginx:${tag}\nPUBLISH ${port}:80\nSTDOUT ${ORCH_STATE_DIR}/${nope}/web.log';
  it('expands ${name} and keeps unknown names (built-ins) verbatim', () => {
    const s = serviceOf(text);
    expect(s.image).toBe('nginx:15');
    expect(s.publish).toEqual([{ host: 8080, container: 80 }]);
    expect(s.logging.stdout).toBe('${ORCH_STATE_DIR}/${nope}/web.log');
  });
  it.each([
    ['file default', {}, 8080],
    ['ORCH_ARG_ env', { env: { ORCH_ARG_port: '7070' } }, 7070],
    ['--arg beats env', { args: { port: '6060' }, env: { ORCH_ARG_port: '7070' } }, 6060],
  ])('precedence: %s', (_n, opts, port) => {
    expect(serviceOf(text, undefined, opts).publish[0]!.host).toBe(port);
  });
  it('overrides apply only to declared ARGs', () => {
    const g = graphOf('SERVICE x\nFROM img:${tag}', { args: { tag: '2' }, env: { ORCH_ARG_tag: '3' } });
    expect(g.args).toEqual({});
    expect(g.services[0]!.image).toBe('img:${tag}');
  });
  it('a later file redefines a default the base file uses; --arg and env still win', () => {
    const base = 'ARG port=8080\nSERVICE web\nFROM nginx\nPUBLISH ${port}:80';
    const overlay = 'ARG port=9090';
    expect(serviceOf([base, overlay]).publish[0]!.host).toBe(9090);
    expect(serviceOf([base, overlay], undefined, { env: { ORCH_ARG_port: '7070' } }).publish[0]!.host).toBe(
      7070,
    );
    expect(
      serviceOf([base, overlay], undefined, { args: { port: '6060' }, env: { ORCH_ARG_port: '7070' } })
        .publish[0]!.host,
    ).toBe(6060);
  });
  it('ARG may appear after it is used, and an empty default is allowed', () => {
    expect(serviceOf('SERVICE x\nFROM img${suffix}\nARG suffix=').image).toBe('img');
  });
  it('expands keys that overlays merge on (PUBLISH container port)', () => {
    const s = serviceOf([
      'ARG cport=80\nSERVICE web\nFROM nginx\nPUBLISH 8080:${cport}',
      'SERVICE web\nPUBLISH 9090:80',
    ]);
    expect(s.publish).toEqual([{ host: 9090, container: 80 }]);
  });
});

describe('overlay merge', () => {
  it('scalars: last wins; omitted scalars are kept', () => {
    const s = serviceOf(['SERVICE web\nFROM nginx:1.24\nMEMORY 1G', 'SERVICE web\nFROM nginx:1.25']);
    expect(s).toMatchObject({ image: 'nginx:1.25', resources: { memory: '1G' } });
  });
  it('ENV merges by key, overlay wins in place, new keys appended', () => {
    const s = serviceOf([
      'SERVICE web\nFROM nginx\nENV MODE=production\nENV KEEP=this',
      'SERVICE web\nENV MODE=staging\nENV DEBUG=true',
    ]);
    expect(Object.entries(s.env)).toEqual([
      ['MODE', 'staging'],
      ['KEEP', 'this'],
      ['DEBUG', 'true'],
    ]);
  });
  it('PUBLISH merges by container port', () => {
    const s = serviceOf([
      'SERVICE web\nFROM nginx\nPUBLISH 8080:80\nPUBLISH 8443:443',
      'SERVICE web\nPUBLISH 9090:80\nPUBLISH 5000:5000',
    ]);
    expect(s.publish).toEqual([
      { host: 9090, container: 80 },
      { host: 8443, container: 443 },
      { host: 5000, container: 5000 },
    ]);
  });
  it('PUBLISH keeps several host ports for one container port within a file', () => {
    expect(serviceOf(c('PUBLISH 8080:80\nPUBLISH 8081:80')).publish).toHaveLength(2);
  });
  it('VOLUME merges by destination', () => {
    const s = serviceOf([
      'SERVICE web\nFROM nginx\nVOLUME a:/data\nVOLUME b:/logs',
      'SERVICE web\nVOLUME /srv/data:/data',
    ]);
    expect(s.volumes.map((v) => `${v.source}:${v.destination}`)).toEqual(['/srv/data:/data', 'b:/logs']);
  });
  it.each([
    ['REQUIRES', 'requires'],
    ['AFTER', 'after'],
    ['ENV_FILE', 'envFiles'],
  ] as const)('%s: appended, duplicates removed', (d, key) => {
    const pre = 'SERVICE db\nFROM pg\nSERVICE cache\nFROM r\n';
    const s = serviceOf(
      [`${pre}SERVICE web\nFROM nginx\n${d} db`, `SERVICE web\n${d} cache\n${d} db`],
      'web',
    );
    expect(s[key]).toEqual(['db', 'cache']);
  });
  it.each([
    ['ENV', 'ENV OLD=1\nENV KEEP=2', 'ENV FRESH=3', (s: Svc) => s.env, { FRESH: '3' }],
    ['ENV_FILE', 'ENV_FILE a.env', 'ENV_FILE b.env', (s: Svc) => s.envFiles, ['b.env']],
    ['PUBLISH', 'PUBLISH 80:80', 'PUBLISH 81:81', (s: Svc) => s.publish, [{ host: 81, container: 81 }]],
    ['VOLUME', 'VOLUME a:/a', 'VOLUME b:/b', (s: Svc) => s.volumes.map((v) => v.source), ['b']],
    ['REQUIRES', 'REQUIRES db', 'REQUIRES cache', (s: Svc) => s.requires, ['cache']],
    ['AFTER', 'AFTER db', 'AFTER cache', (s: Svc) => s.after, ['cache']],
  ])('CLEAR %s discards the base values', (d, base, overlay, get, expected) => {
    const pre = 'SERVICE db\nFROM pg\nSERVICE cache\nFROM r\n';
    const s = serviceOf(
      [`${pre}SERVICE web\nFROM nginx\n${base}`, `SERVICE web\nCLEAR ${d}\n${overlay}`],
      'web',
    );
    expect(get(s)).toEqual(expected);
  });
  it('CLEAR without new values empties the list', () => {
    expect(serviceOf(['SERVICE web\nFROM nginx\nENV A=1', 'SERVICE web\nCLEAR ENV']).env).toEqual({});
  });
  it('setting FROM on a host service drops RUN and the host-only directives', () => {
    const s = serviceOf([
      'SERVICE w\nRUN ./w\nUSER app\nSTOP kill 1\nRELOAD kill -HUP 1\nMEMORY 1G',
      'SERVICE w\nFROM python:3',
    ]);
    expect(s).toMatchObject({
      mode: 'container',
      image: 'python:3',
      runCommand: undefined,
      user: undefined,
      stopCommand: undefined,
      reloadCommand: undefined,
      resources: { memory: '1G' },
    });
  });
  it('setting RUN on a container service drops FROM and the container-only directives', () => {
    const s = serviceOf([
      'SERVICE w\nFROM img\nENTRYPOINT /e\nCMD c\nPUBLISH 80:80\nVOLUME a:/a\nENV K=v',
      'SERVICE w\nRUN ./w',
    ]);
    expect(s).toMatchObject({
      mode: 'host',
      image: undefined,
      entrypoint: undefined,
      cmd: undefined,
      publish: [],
      volumes: [],
      env: { K: 'v' },
    });
  });
  it('new services in overlays are appended; an overlay need not set FROM or RUN', () => {
    const g = graphOf(['SERVICE a\nFROM img', 'SERVICE b\nFROM img2\nSERVICE a\nENV X=1']);
    expect(g.services.map((s) => s.name)).toEqual(['a', 'b']);
    expect(g.services[0]!.env).toEqual({ X: '1' });
  });
  it('constraints are checked on the merged result', () => {
    expect(errorsOf(['SERVICE a\nFROM img', 'SERVICE a\nUSER me'])).toEqual([
      "b.orch:2:6: service 'a': USER is only valid with RUN (host mode), found at b.orch:2:6 (C3)",
    ]);
    expect(errorsOf(['SERVICE a\nFROM img', 'SERVICE a\nRUN cmd\nFROM img2'])).toEqual([
      "b.orch:3:6: service 'a': cannot specify both FROM and RUN (C1): FROM at b.orch:3:6, RUN at b.orch:2:5",
    ]);
  });
  it('the fixtures merge as the spec describes', () => {
    const read = (f: string): string => readFileSync(join(FIXTURES, f), 'utf8');
    expectGolden('overlay.json', formatJSON(graphOf([read('base.orch'), read('overlay.orch')])) + '\n');
  });
});

type Svc = ReturnType<typeof serviceOf>;

describe('constraints', () => {
  it.each([
    [
      'C1 both',
      'SERVICE bad\nFROM img\nRUN cmd',
      "a.orch:3:5: service 'bad': cannot specify both FROM and RUN (C1): FROM at a.orch:2:6, RUN at a.orch:3:5",
    ],
    [
      'C1 neither',
      'SERVICE empty\nENV A=1',
      "a.orch:1:1: service 'empty': must specify either FROM or RUN (C1)",
    ],
    [
      'C2 ENTRYPOINT',
      h('ENTRYPOINT /bin/sh'),
      "a.orch:3:12: service 'x': ENTRYPOINT is only valid with FROM (container mode), found at a.orch:3:12 (C2)",
    ],
    [
      'C2 CMD',
      h('CMD args'),
      "a.orch:3:5: service 'x': CMD is only valid with FROM (container mode), found at a.orch:3:5 (C2)",
    ],
    [
      'C2 PUBLISH',
      h('PUBLISH 80:80'),
      "a.orch:3:9: service 'x': PUBLISH is only valid with FROM (container mode), found at a.orch:3:9 (C2)",
    ],
    [
      'C2 VOLUME',
      h('VOLUME d:/d'),
      "a.orch:3:8: service 'x': VOLUME is only valid with FROM (container mode), found at a.orch:3:8 (C2)",
    ],
    [
      'C3 USER',
      c('USER postgres'),
      "a.orch:3:6: service 'x': USER is only valid with RUN (host mode), found at a.orch:3:6 (C3)",
    ],
    [
      'C3 STOP',
      c('STOP kill -9'),
      "a.orch:3:6: service 'x': STOP is only valid with RUN (host mode), found at a.orch:3:6 (C3)",
    ],
    [
      'C3 RELOAD',
      c('RELOAD nginx -s reload'),
      "a.orch:3:8: service 'x': RELOAD is only valid with RUN (host mode), found at a.orch:3:8 (C3)",
    ],
    [
      'C4 self',
      'SERVICE a\nFROM img\nREQUIRES a',
      "a.orch:3:10: service 'a': dependency cycle detected: a -> a",
    ],
    [
      'C4 two',
      'SERVICE a\nFROM img\nREQUIRES b\nSERVICE b\nFROM img\nREQUIRES a',
      "a.orch:6:10: service 'a': dependency cycle detected: a -> b -> a",
    ],
    [
      'C4 via AFTER',
      'SERVICE a\nFROM img\nAFTER b\nSERVICE b\nFROM img\nAFTER c\nSERVICE c\nFROM img\nREQUIRES a',
      "a.orch:9:10: service 'a': dependency cycle detected: a -> b -> c -> a",
    ],
    [
      'unknown REQUIRES',
      'SERVICE a\nFROM img\nREQUIRES postgress\nSERVICE postgres\nFROM pg',
      "a.orch:3:10: service 'a': REQUIRES references unknown service 'postgress' (did you mean 'postgres'?)",
    ],
  ])('%s', (_n, text, expected) => {
    expect(errorsOf(text)).toEqual([expected]);
  });
  it('AFTER may name a service that does not exist', () => {
    expect(serviceOf(h('AFTER localstack')).after).toEqual(['localstack']);
  });
  it('reports every cycle once, and all graph errors together', () => {
    const errs = errorsOf(
      'SERVICE a\nFROM i\nREQUIRES b\nSERVICE b\nFROM i\nREQUIRES a\nSERVICE c\nFROM i\nREQUIRES c nope',
    );
    expect(errs).toHaveLength(3);
    expect(errs.filter((e) => e.includes('cycle'))).toHaveLength(2);
  });
  it('handles a 5,000-service dependency chain without overflowing', () => {
    let text = '';
    for (let i = 0; i < 5000; i++) text += `SERVICE s${i}\nFROM img\n${i > 0 ? `REQUIRES s${i - 1}\n` : ''}`;
    expect(graphOf(text).services).toHaveLength(5000);
    expect(errorsOf(text + 'SERVICE s0\nREQUIRES s4999')).toHaveLength(1);
  });
});

describe('errors', () => {
  it.each([
    [
      'unknown directive with suggestion',
      'SERVICE x\nFORM img',
      "a.orch:2:1: unknown directive 'FORM' (did you mean 'FROM'?)",
    ],
    [
      'lowercase directive',
      'SERVICE x\n  from img',
      "a.orch:2:3: unknown directive 'from' (did you mean 'FROM'?)",
    ],
    [
      'unknown directive, nothing close',
      'SERVICE x\nFROM i\nXYZZY 1',
      "a.orch:3:1: unknown directive 'XYZZY'",
    ],
    ['outside SERVICE', 'FROM img', "a.orch:1:1: directive 'FROM' outside of SERVICE block"],
    ['CLEAR outside SERVICE', 'CLEAR ENV', 'a.orch:1:1: CLEAR outside of SERVICE block'],
    [
      'duplicate service',
      'SERVICE a\nFROM i\nSERVICE a\nFROM j',
      "a.orch:3:9: duplicate service name 'a' (first defined at line 1)",
    ],
    [
      'duplicate FROM',
      'SERVICE a\nFROM i\nFROM j',
      "a.orch:3:1: service 'a': duplicate FROM directive (first defined at line 2)",
    ],
    [
      'CLEAR scalar',
      'SERVICE a\nFROM i\nCLEAR FROM',
      "a.orch:3:7: service 'a': CLEAR cannot target scalar directive 'FROM' (scalars override by last-wins)",
    ],
    [
      'CLEAR unknown',
      'SERVICE a\nFROM i\nCLEAR PUBLISHES',
      "a.orch:3:7: service 'a': CLEAR targets unknown directive 'PUBLISHES' (did you mean 'PUBLISH'?)",
    ],
    [
      'CLEAR no target',
      'SERVICE a\nFROM i\nCLEAR',
      "a.orch:3:1: service 'a': CLEAR requires a target directive name",
    ],
    ['missing value', 'SERVICE a\nFROM', "a.orch:2:1: service 'a': FROM requires a value"],
    ['SERVICE without name', 'SERVICE', 'a.orch:1:1: SERVICE requires a name'],
    [
      'name uppercase',
      'SERVICE MyApp\nFROM i',
      "a.orch:1:9: service name 'MyApp' must start with a lowercase letter",
    ],
    [
      'name digit first',
      'SERVICE 1bad\nFROM i',
      "a.orch:1:9: service name '1bad' must start with a lowercase letter",
    ],
    [
      'name bad char',
      'SERVICE my_app\nFROM i',
      "a.orch:1:9: service name 'my_app' contains invalid character '_' (only lowercase alphanumeric and hyphens allowed)",
    ],
    [
      'name too long',
      `SERVICE ${'a'.repeat(64)}\nFROM i`,
      `a.orch:1:9: service name '${'a'.repeat(64)}' exceeds 63 character limit (64)`,
    ],
    ['ARG without =', 'ARG port', "a.orch:1:5: invalid ARG format 'port', expected name=value"],
    ['ARG alone', 'ARG', 'a.orch:1:1: ARG requires name=value'],
    ['ARG empty name', 'ARG =1', 'a.orch:1:5: ARG name cannot be empty'],
    ['ENV without =', c('ENV FOO'), "a.orch:3:5: service 'x': invalid ENV format 'FOO', expected KEY=value"],
    ['ENV empty key', c('ENV =v'), "a.orch:3:5: service 'x': ENV key cannot be empty"],
    [
      'PUBLISH one part',
      c('PUBLISH 80'),
      "a.orch:3:9: service 'x': invalid PUBLISH format '80', expected [address:]host_port:container_port",
    ],
    [
      'VOLUME no colon',
      c('VOLUME data'),
      "a.orch:3:8: service 'x': invalid VOLUME format 'data', expected source:destination",
    ],
    [
      'ORCH_VERSION after SERVICE',
      'SERVICE a\nFROM i\nORCH_VERSION 1.0.0-rc',
      'a.orch:3:1: ORCH_VERSION must appear before any SERVICE',
    ],
    [
      'ORCH_VERSION unsupported',
      'ORCH_VERSION 9.9.9',
      "a.orch:1:14: unsupported Orchfile version '9.9.9' (this parser supports 1.0.0-rc)",
    ],
    [
      'ORCH_VERSION twice',
      'ORCH_VERSION 1.0.0-rc\nORCH_VERSION 1.0.0-rc',
      'a.orch:2:1: duplicate ORCH_VERSION directive (first defined at line 1)',
    ],
  ])('%s', (_n, text, expected) => {
    expect(errorsOf(text)).toEqual([expected]);
  });

  it.each([
    ['IO_WEIGHT range', 'IO_WEIGHT 5', 'IO_WEIGHT must be 10-1000, got 5'],
    ['IO_WEIGHT range high', 'IO_WEIGHT 1001', 'IO_WEIGHT must be 10-1000, got 1001'],
    ['IO_WEIGHT number', 'IO_WEIGHT lots', "IO_WEIGHT must be a number, got 'lots'"],
    ['duration unit', 'TIMEOUT_START 30', "TIMEOUT_START must be a duration like 30s or 5m, got '30'"],
    ['duration hours', 'RESTART_DELAY 1h', "RESTART_DELAY must be a duration like 30s or 5m, got '1h'"],
    [
      'READINESS_TIMEOUT',
      'READINESS_TIMEOUT soon',
      "READINESS_TIMEOUT must be a duration like 30s or 5m, got 'soon'",
    ],
    [
      'START_LIMIT_INTERVAL',
      'START_LIMIT_INTERVAL 1.5s',
      "START_LIMIT_INTERVAL must be a duration like 30s or 5m, got '1.5s'",
    ],
    ['TIMEOUT_STOP', 'TIMEOUT_STOP -1s', "TIMEOUT_STOP must be a duration like 30s or 5m, got '-1s'"],
    [
      'memory suffix',
      'MEMORY 4GB',
      "MEMORY must be an integer with a K, M or G suffix (like 512M), got '4GB'",
    ],
    [
      'memory fraction',
      'MEMORY 1.5G',
      "MEMORY must be an integer with a K, M or G suffix (like 512M), got '1.5G'",
    ],
    ['CPU_QUOTA', 'CPU_QUOTA 50', "CPU_QUOTA must be a percentage like 50%, got '50'"],
    ['CPUS', 'CPUS two', "CPUS must be a number, got 'two'"],
    ['CPUS zero', 'CPUS 0', "CPUS must be greater than 0, got '0'"],
    ['LIMIT_NOFILE', 'LIMIT_NOFILE many', "LIMIT_NOFILE must be a number, got 'many'"],
    ['LIMIT_NPROC', 'LIMIT_NPROC -1', "LIMIT_NPROC must be a number, got '-1'"],
    ['TASKS_MAX', 'TASKS_MAX 1e3', "TASKS_MAX must be a number, got '1e3'"],
    ['START_LIMIT_BURST', 'START_LIMIT_BURST five', "START_LIMIT_BURST must be a number, got 'five'"],
    ['ONESHOT', 'ONESHOT yes', "ONESHOT expects 'true' or 'false', got 'yes'"],
    ['DISABLED', 'DISABLED 1', "DISABLED expects 'true' or 'false', got '1'"],
    ['RECREATE', 'RECREATE sometimes', "invalid RECREATE value 'sometimes', expected 'always' or 'never'"],
    [
      'RESTART',
      'RESTART on_failure',
      "invalid RESTART value 'on_failure', expected 'no', 'always', or 'on-failure'",
    ],
    ['host port 0', 'PUBLISH 0:80', "invalid host port '0' in PUBLISH (expected 1-65535)"],
    [
      'container port too big',
      'PUBLISH 80:65536',
      "invalid container port '65536' in PUBLISH (expected 1-65535)",
    ],
    ['port not a number', 'PUBLISH http:80', "invalid host port 'http' in PUBLISH (expected 1-65535)"],
    ['ENV key', 'ENV 1X=a', "invalid ENV key '1X' (letters, digits and '_', not starting with a digit)"],
    ['HEALTHCHECK URL', 'HEALTHCHECK http://', "HEALTHCHECK URL 'http://' is not a valid URL"],
    ['REQUIRES name', 'REQUIRES Db', "REQUIRES: service name 'Db' must start with a lowercase letter"],
  ])('value format: %s', (_n, line, message) => {
    const col = line.indexOf(' ') + 2;
    expect(errorsOf(c(line))).toEqual([`a.orch:3:${col}: service 'x': ${message}`]);
  });

  it('validates values after ARG expansion, pointing at the line that used the ARG', () => {
    expect(errorsOf('ARG mem=lots\nSERVICE x\nFROM i\nMEMORY ${mem}', { args: { mem: '2T' } })).toEqual([
      "a.orch:4:8: service 'x': MEMORY must be an integer with a K, M or G suffix (like 512M), got '2T'",
    ]);
  });

  it('reports all errors of a stage at once, across files, in reading order', () => {
    const errs = errorsOf(['SERVICE a\nFORM x\nRESTARTS no', 'SERVICE b\nFROM x\nCLEAR CMD\nenv A=1']);
    expect(errs).toEqual([
      "a.orch:2:1: unknown directive 'FORM' (did you mean 'FROM'?)",
      "a.orch:3:1: unknown directive 'RESTARTS' (did you mean 'RESTART'?)",
      "b.orch:3:7: service 'b': CLEAR cannot target scalar directive 'CMD' (scalars override by last-wins)",
      "b.orch:4:1: unknown directive 'env' (did you mean 'ENV'?)",
    ]);
  });

  it('reports every value error of every service together', () => {
    const errs = errorsOf('SERVICE a\nFROM i\nUSER u\nMEMORY x\nSERVICE b\nRUN r\nCPUS y\nPUBLISH 1:2');
    expect(errs.map((e) => e.split(': ').slice(2).join(': '))).toEqual([
      'USER is only valid with RUN (host mode), found at a.orch:3:6 (C3)',
      "MEMORY must be an integer with a K, M or G suffix (like 512M), got 'x'",
      "CPUS must be a number, got 'y'",
      'PUBLISH is only valid with FROM (container mode), found at a.orch:8:9 (C2)',
    ]);
  });

  it('a bad SERVICE line does not cascade into outside-of-block errors', () => {
    expect(errorsOf('SERVICE Bad\nFROM img\nENV A=1')).toHaveLength(1);
  });
});

/**
 * Stage 2: a merged RawService to an OrchService. Checks C1 (FROM xor RUN), C2/C3 (directives of
 * the other mode) and every value's format, reporting all problems of the service at once.
 */
import { CONTAINER_ONLY, HOST_ONLY, type ScalarDirective } from './directives.ts';
import { errorAt, type OrchfileError } from './errors.ts';
import type { Located, RawService } from './raw.ts';
import type {
  OrchService,
  PortMapping,
  RecreatePolicy,
  RestartPolicy,
  SourcePos,
  VolumeMount,
} from './types.ts';
import {
  checkDuration,
  checkEnvKey,
  checkMemory,
  checkPercentage,
  checkServiceName,
  parseBool,
  parseCpus,
  parseInteger,
  parseIoWeight,
  parsePort,
} from './values.ts';

const fmt = (p: SourcePos): string => `${p.file}:${p.line}:${p.col}`;
const U32_MAX = 4294967295;

export function resolveService(raw: RawService): { service?: OrchService; errors: OrchfileError[] } {
  const errors: OrchfileError[] = [];
  const service = raw.name;
  const fail = (pos: SourcePos, code: OrchfileError['code'], message: string): void => {
    errors.push(errorAt(pos, code, message, { service }));
  };
  const scalar = (d: ScalarDirective): Located | undefined => raw.scalars.get(d);
  const text = (d: ScalarDirective): string | undefined => raw.scalars.get(d)?.value;
  /** Runs `check` on the directive's value when it is set; the value is kept only if it passes. */
  const checked = (d: ScalarDirective, check: (v: string) => string | undefined): string | undefined => {
    const v = scalar(d);
    if (v === undefined) return undefined;
    const bad = check(v.value);
    if (bad === undefined) return v.value;
    fail(v.pos, 'invalid-value', bad);
    return undefined;
  };
  const parsed = <T>(d: ScalarDirective, parse: (v: string) => T | string): T | undefined => {
    const v = scalar(d);
    if (v === undefined) return undefined;
    const r = parse(v.value);
    if (typeof r !== 'string') return r;
    fail(v.pos, 'invalid-value', r);
    return undefined;
  };

  // C1, then C2/C3 against the mode it decides.
  const from = scalar('FROM');
  const run = scalar('RUN');
  if (from !== undefined && run !== undefined) {
    const later = from.pos.line > run.pos.line && from.pos.file === run.pos.file ? from : run;
    fail(
      later.pos,
      'c1',
      `cannot specify both FROM and RUN (C1): FROM at ${fmt(from.pos)}, RUN at ${fmt(run.pos)}`,
    );
  } else if (from === undefined && run === undefined) {
    fail(raw.pos, 'c1', 'must specify either FROM or RUN (C1)');
  }
  const mode = run !== undefined && from === undefined ? 'host' : 'container';
  if (mode === 'host') {
    for (const d of CONTAINER_ONLY) {
      for (const pos of usesOf(raw, d)) {
        fail(pos, 'c2', `${d} is only valid with FROM (container mode), found at ${fmt(pos)} (C2)`);
      }
    }
  } else if (from !== undefined) {
    for (const d of HOST_ONLY) {
      for (const pos of usesOf(raw, d)) {
        fail(pos, 'c3', `${d} is only valid with RUN (host mode), found at ${fmt(pos)} (C3)`);
      }
    }
  }

  const publish: PortMapping[] = [];
  for (const { value: p, pos } of raw.publish.entries) {
    const host = parsePort('host', p.host);
    const container = parsePort('container', p.container);
    if (typeof host === 'string') fail(pos, 'invalid-value', host);
    if (typeof container === 'string') fail(pos, 'invalid-value', container);
    if (p.address !== '' && !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.:-]+)$/.test(p.address)) {
      fail(pos, 'invalid-value', `invalid address '${p.address}' in PUBLISH`);
    }
    if (typeof host === 'number' && typeof container === 'number') {
      publish.push(p.address === '' ? { host, container } : { address: p.address, host, container });
    }
  }
  const volumes: VolumeMount[] = raw.volumes.entries.map(({ value: v }) => ({
    source: v.source,
    destination: v.destination,
    isNamed: !/^(\/|\.\/|\.\.\/|\$\{)/.test(v.source),
  }));

  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const { value: e, pos } of raw.env.entries) {
    const bad = checkEnvKey(e.key);
    if (bad !== undefined) fail(pos, 'invalid-value', bad);
    else env[e.key] = e.value;
  }

  const requires = names(raw.requires.entries, 'REQUIRES', fail);
  const after = names(raw.after.entries, 'AFTER', fail);

  const healthcheck = checked('HEALTHCHECK', (v) =>
    /^https?:\/\//.test(v) && !URL.canParse(v) ? `HEALTHCHECK URL '${v}' is not a valid URL` : undefined,
  );
  const recreate = checked('RECREATE', (v) =>
    v === 'always' || v === 'never'
      ? undefined
      : `invalid RECREATE value '${v}', expected 'always' or 'never'`,
  ) as RecreatePolicy | undefined;
  const policy = checked('RESTART', (v) =>
    v === 'no' || v === 'always' || v === 'on-failure'
      ? undefined
      : `invalid RESTART value '${v}', expected 'no', 'always', or 'on-failure'`,
  ) as RestartPolicy | undefined;
  const duration = (d: ScalarDirective): string | undefined => checked(d, (v) => checkDuration(d, v));
  const integer = (d: ScalarDirective, max?: number): number | undefined =>
    parsed(d, (v) => parseInteger(d, v, max));

  const result: OrchService = {
    name: raw.name,
    mode,
    image: from?.value,
    runCommand: run?.value,
    entrypoint: text('ENTRYPOINT'),
    cmd: text('CMD'),
    publish,
    volumes,
    user: text('USER'),
    stopCommand: text('STOP'),
    reloadCommand: text('RELOAD'),
    workdir: text('WORKDIR'),
    env,
    envFiles: raw.envFiles.entries.map((e) => e.value),
    requires,
    after,
    healthcheck,
    readinessTimeout: duration('READINESS_TIMEOUT'),
    oneshot: parsed('ONESHOT', (v) => parseBool('ONESHOT', v)) ?? false,
    disabled: parsed('DISABLED', (v) => parseBool('DISABLED', v)) ?? false,
    recreate: recreate ?? 'never',
    restart: {
      policy: policy ?? 'no',
      delay: duration('RESTART_DELAY'),
      startLimitBurst: integer('START_LIMIT_BURST', U32_MAX),
      startLimitInterval: duration('START_LIMIT_INTERVAL'),
    },
    timeouts: { start: duration('TIMEOUT_START'), stop: duration('TIMEOUT_STOP') },
    resources: {
      memory: checked('MEMORY', checkMemory),
      cpus: parsed('CPUS', parseCpus),
      cpuQuota: checked('CPU_QUOTA', (v) => checkPercentage('CPU_QUOTA', v)),
      limitNofile: integer('LIMIT_NOFILE'),
      limitNproc: integer('LIMIT_NPROC'),
      tasksMax: integer('TASKS_MAX'),
      ioWeight: parsed('IO_WEIGHT', parseIoWeight),
    },
    logging: { stdout: text('STDOUT'), stderr: text('STDERR') },
    source: raw.pos,
  };
  return errors.length > 0 ? { errors } : { service: result, errors };
}

function usesOf(
  raw: RawService,
  d: (typeof CONTAINER_ONLY)[number] | (typeof HOST_ONLY)[number],
): SourcePos[] {
  if (d === 'PUBLISH') return raw.publish.entries.map((e) => e.pos);
  if (d === 'VOLUME') return raw.volumes.entries.map((e) => e.pos);
  const v = raw.scalars.get(d);
  return v === undefined ? [] : [v.pos];
}

function names(
  entries: readonly Located[],
  directive: string,
  fail: (pos: SourcePos, code: OrchfileError['code'], message: string) => void,
): string[] {
  const out: string[] = [];
  for (const { value, pos } of entries) {
    const bad = checkServiceName(value);
    if (bad === undefined) out.push(value);
    else fail(pos, 'invalid-name', `${directive}: ${bad}`);
  }
  return out;
}

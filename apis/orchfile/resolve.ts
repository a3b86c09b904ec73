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
  const r = new ServiceReader(raw);
  const mode = checkMode(r);
  const publish = resolvePublish(r);
  const env = resolveEnv(r);
  const requires = names(raw.requires.entries, 'REQUIRES', r);
  const after = names(raw.after.entries, 'AFTER', r);
  const healthcheck = r.checked('HEALTHCHECK', (v) =>
    /^https?:\/\//.test(v) && !URL.canParse(v) ? `HEALTHCHECK URL '${v}' is not a valid URL` : undefined,
  );
  const recreate = r.checked('RECREATE', (v) =>
    v === 'always' || v === 'never'
      ? undefined
      : `invalid RECREATE value '${v}', expected 'always' or 'never'`,
  ) as RecreatePolicy | undefined;
  const policy = r.checked('RESTART', (v) =>
    v === 'no' || v === 'always' || v === 'on-failure'
      ? undefined
      : `invalid RESTART value '${v}', expected 'no', 'always', or 'on-failure'`,
  ) as RestartPolicy | undefined;

  const service: OrchService = {
    name: raw.name,
    mode,
    image: r.scalar('FROM')?.value,
    runCommand: r.scalar('RUN')?.value,
    entrypoint: r.text('ENTRYPOINT'),
    cmd: r.text('CMD'),
    publish,
    volumes: resolveVolumes(raw),
    user: r.text('USER'),
    stopCommand: r.text('STOP'),
    reloadCommand: r.text('RELOAD'),
    workdir: r.text('WORKDIR'),
    env,
    envFiles: raw.envFiles.entries.map((e) => e.value),
    requires,
    after,
    healthcheck,
    readinessTimeout: r.duration('READINESS_TIMEOUT'),
    oneshot: r.bool('ONESHOT'),
    disabled: r.bool('DISABLED'),
    recreate: recreate ?? 'never',
    restart: {
      policy: policy ?? 'no',
      delay: r.duration('RESTART_DELAY'),
      startLimitBurst: r.integer('START_LIMIT_BURST', U32_MAX),
      startLimitInterval: r.duration('START_LIMIT_INTERVAL'),
    },
    timeouts: { start: r.duration('TIMEOUT_START'), stop: r.duration('TIMEOUT_STOP') },
    resources: resolveResources(r),
    logging: { stdout: r.text('STDOUT'), stderr: r.text('STDERR') },
    source: raw.pos,
  };
  return r.errors.length > 0 ? { errors: r.errors } : { service, errors: r.errors };
}

/**
 * Reads one service's scalar directives, collecting every problem instead of stopping at the
 * first: a value that fails its check is reported and read as unset.
 */
class ServiceReader {
  readonly raw: RawService;
  readonly errors: OrchfileError[] = [];

  constructor(raw: RawService) {
    this.raw = raw;
  }

  fail(pos: SourcePos, code: OrchfileError['code'], message: string): void {
    this.errors.push(errorAt(pos, code, message, { service: this.raw.name }));
  }

  scalar(d: ScalarDirective): Located | undefined {
    return this.raw.scalars.get(d);
  }

  text(d: ScalarDirective): string | undefined {
    return this.raw.scalars.get(d)?.value;
  }

  /** Runs `check` on the directive's value when it is set; the value is kept only if it passes. */
  checked(d: ScalarDirective, check: (v: string) => string | undefined): string | undefined {
    const v = this.scalar(d);
    if (v === undefined) return undefined;
    const bad = check(v.value);
    if (bad === undefined) return v.value;
    this.fail(v.pos, 'invalid-value', bad);
    return undefined;
  }

  /** Like checked, for a value that parses to something else (`parse` returns an error string). */
  parsed<T>(d: ScalarDirective, parse: (v: string) => T | string): T | undefined {
    const v = this.scalar(d);
    if (v === undefined) return undefined;
    const r = parse(v.value);
    if (typeof r !== 'string') return r;
    this.fail(v.pos, 'invalid-value', r);
    return undefined;
  }

  duration(d: ScalarDirective): string | undefined {
    return this.checked(d, (v) => checkDuration(d, v));
  }

  integer(d: ScalarDirective, max?: number): number | undefined {
    return this.parsed(d, (v) => parseInteger(d, v, max));
  }

  /** A boolean directive; unset is false. */
  bool(d: ScalarDirective): boolean {
    return this.parsed(d, (v) => parseBool(d, v)) ?? false;
  }
}

/** C1 (exactly one of FROM and RUN), then C2/C3 against the mode it decides. */
function checkMode(r: ServiceReader): OrchService['mode'] {
  const from = r.scalar('FROM');
  const run = r.scalar('RUN');
  if (from !== undefined && run !== undefined) {
    const later = from.pos.line > run.pos.line && from.pos.file === run.pos.file ? from : run;
    r.fail(
      later.pos,
      'c1',
      `cannot specify both FROM and RUN (C1): FROM at ${fmt(from.pos)}, RUN at ${fmt(run.pos)}`,
    );
  } else if (from === undefined && run === undefined) {
    r.fail(r.raw.pos, 'c1', 'must specify either FROM or RUN (C1)');
  }
  const mode = run !== undefined && from === undefined ? 'host' : 'container';
  if (mode === 'host') {
    for (const d of CONTAINER_ONLY) {
      for (const pos of usesOf(r.raw, d)) {
        r.fail(pos, 'c2', `${d} is only valid with FROM (container mode), found at ${fmt(pos)} (C2)`);
      }
    }
  } else if (from !== undefined) {
    for (const d of HOST_ONLY) {
      for (const pos of usesOf(r.raw, d)) {
        r.fail(pos, 'c3', `${d} is only valid with RUN (host mode), found at ${fmt(pos)} (C3)`);
      }
    }
  }
  return mode;
}

function resolvePublish(r: ServiceReader): PortMapping[] {
  const publish: PortMapping[] = [];
  for (const { value: p, pos } of r.raw.publish.entries) {
    const host = parsePort('host', p.host);
    const container = parsePort('container', p.container);
    if (typeof host === 'string') r.fail(pos, 'invalid-value', host);
    if (typeof container === 'string') r.fail(pos, 'invalid-value', container);
    if (p.address !== '' && !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.:-]+)$/.test(p.address)) {
      r.fail(pos, 'invalid-value', `invalid address '${p.address}' in PUBLISH`);
    }
    if (typeof host === 'number' && typeof container === 'number') {
      publish.push(p.address === '' ? { host, container } : { address: p.address, host, container });
    }
  }
  return publish;
}

function resolveVolumes(raw: RawService): VolumeMount[] {
  return raw.volumes.entries.map(({ value: v }) => ({
    source: v.source,
    destination: v.destination,
    isNamed: !/^(\/|\.\/|\.\.\/|\$\{)/.test(v.source),
  }));
}

function resolveEnv(r: ServiceReader): Record<string, string> {
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const { value: e, pos } of r.raw.env.entries) {
    const bad = checkEnvKey(e.key);
    if (bad !== undefined) r.fail(pos, 'invalid-value', bad);
    else env[e.key] = e.value;
  }
  return env;
}

function resolveResources(r: ServiceReader): OrchService['resources'] {
  return {
    memory: r.checked('MEMORY', checkMemory),
    cpus: r.parsed('CPUS', parseCpus),
    cpuQuota: r.checked('CPU_QUOTA', (v) => checkPercentage('CPU_QUOTA', v)),
    limitNofile: r.integer('LIMIT_NOFILE'),
    limitNproc: r.integer('LIMIT_NPROC'),
    tasksMax: r.integer('TASKS_MAX'),
    ioWeight: r.parsed('IO_WEIGHT', parseIoWeight),
  };
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

function names(entries: readonly Located[], directive: string, r: ServiceReader): string[] {
  const out: string[] = [];
  for (const { value, pos } of entries) {
    const bad = checkServiceName(value);
    if (bad === undefined) out.push(value);
    else r.fail(pos, 'invalid-name', `${directive}: ${bad}`);
  }
  return out;
}

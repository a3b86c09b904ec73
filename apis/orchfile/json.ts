/**
 * The JSON form `orch parse` prints: the reference tool's keys and key order, empty optional
 * fields omitted, `oneshot`, `disabled`, `recreate`, `restart`, `timeouts`, `resources` and
 * `logging` always present. Unlike the reference, `env` and `args` keep file order.
 */
import type { OrchGraph, OrchService } from './types.ts';

export interface OrchfileJSON {
  version: string;
  args: Record<string, string>;
  services: Record<string, unknown>[];
}

/** The graph as the plain object `orch parse` prints. */
export function toJSON(graph: OrchGraph): OrchfileJSON {
  return {
    version: graph.version,
    args: { ...graph.args },
    services: graph.services.map(serviceJSON),
  };
}

/**
 * Pretty JSON exactly as `orch parse` prints it (2-space indent; whole-number CPUS printed as
 * `2.0`, as the reference's float does), without a trailing newline.
 */
export function formatJSON(graph: OrchGraph): string {
  return JSON.stringify(toJSON(graph), null, 2).replace(/^(\s*"cpus": )(\d+)(,?)$/gm, '$1$2.0$3');
}

function serviceJSON(s: OrchService): Record<string, unknown> {
  const out: Record<string, unknown> = { name: s.name, mode: s.mode };
  const opt = (key: string, v: unknown): void => {
    if (v === undefined) return;
    if (Array.isArray(v) && v.length === 0) return;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0) return;
    out[key] = v;
  };
  opt('image', s.image);
  opt('run_command', s.runCommand);
  opt('entrypoint', s.entrypoint);
  opt('cmd', s.cmd);
  opt(
    'publish',
    s.publish.map((p) => ({ ...p })),
  );
  opt(
    'volumes',
    s.volumes.map((v) => ({ source: v.source, destination: v.destination, is_named: v.isNamed })),
  );
  opt('user', s.user);
  opt('stop_command', s.stopCommand);
  opt('reload_command', s.reloadCommand);
  opt('workdir', s.workdir);
  opt('env', { ...s.env });
  opt('env_files', [...s.envFiles]);
  opt('requires', [...s.requires]);
  opt('after', [...s.after]);
  opt('healthcheck', s.healthcheck);
  opt('readiness_timeout', s.readinessTimeout);
  out.oneshot = s.oneshot;
  out.disabled = s.disabled;
  out.recreate = s.recreate;
  out.restart = defined({
    policy: s.restart.policy === 'on-failure' ? 'on_failure' : s.restart.policy,
    delay: s.restart.delay,
    start_limit_burst: s.restart.startLimitBurst,
    start_limit_interval: s.restart.startLimitInterval,
  });
  out.timeouts = defined({ start: s.timeouts.start, stop: s.timeouts.stop });
  out.resources = defined({
    memory: s.resources.memory,
    cpus: s.resources.cpus,
    cpu_quota: s.resources.cpuQuota,
    limit_nofile: s.resources.limitNofile,
    limit_nproc: s.resources.limitNproc,
    tasks_max: s.resources.tasksMax,
    io_weight: s.resources.ioWeight,
  });
  out.logging = defined({ stdout: s.logging.stdout, stderr: s.logging.stderr });
  return out;
}

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

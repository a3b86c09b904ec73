/**
 * What both platform renderers share: built-in variable values, path resolution against the
 * project, shell quoting, and the container runtime command line.
 */
import type { OrchService } from '../types.ts';
import { durationSeconds } from '../values.ts';
import { shellQuote } from '../../shell.ts';

export interface RenderOptions {
  /**
   * Values for built-in variables. ORCH_PROJECT should be an absolute path (relative WORKDIR,
   * STDOUT/STDERR, ENV_FILE and `./` volume sources are resolved against it, and host services
   * run in it when they have no WORKDIR); default `.`.
   * Defaults: ORCH_DATA `${ORCH_PROJECT}/.orch/data`, ORCH_STATE_DIR `${ORCH_PROJECT}/.orch/state`,
   * ORCH_CONTAINERS_DIR `${ORCH_STATE_DIR}/containers`, PORT_OFFSET `0`, CONTAINER_PREFIX `''`;
   * SERVICE_NAME is always the service's name. Other `${name}` references are left as written.
   */
  readonly vars?: Readonly<Record<string, string>>;
  /**
   * The container runtime command. Default `podman` for systemd (run via PATH) and
   * `/usr/local/bin/container` (Apple containers) for launchd.
   */
  readonly containerRuntime?: string;
  /** Prefix of unit file names and launchd labels. Default `''` (systemd) and `orch.` (launchd). */
  readonly prefix?: string;
  /** launchd inlines ENV_FILE contents: called with each resolved path; undefined skips it. Default none. */
  readonly readEnvFile?: (path: string) => string | undefined;
}

/** One generated file: its name (no directory) and content. */
export interface RenderedFile {
  readonly name: string;
  readonly content: string;
}

export type Vars = ReadonlyMap<string, string>;

export function builtinVars(opts: RenderOptions, service: string): Vars {
  const given = opts.vars ?? {};
  const project = given.ORCH_PROJECT ?? '.';
  const state = given.ORCH_STATE_DIR ?? `${project}/.orch/state`;
  return new Map(
    Object.entries({
      ORCH_PROJECT: project,
      ORCH_DATA: `${project}/.orch/data`,
      ORCH_STATE_DIR: state,
      ORCH_CONTAINERS_DIR: `${state}/containers`,
      PORT_OFFSET: '0',
      CONTAINER_PREFIX: '',
      ...given,
      SERVICE_NAME: service,
    }),
  );
}

export function subst(text: string, vars: Vars): string {
  return text.replace(/\$\{([^}]*)\}/g, (ref, name: string) => vars.get(name) ?? ref);
}

/** An absolute path: relative paths are taken from ORCH_PROJECT. */
export function projectPath(path: string, vars: Vars): string {
  const p = subst(path, vars);
  if (p.startsWith('/')) return p;
  const base = vars.get('ORCH_PROJECT')!.replace(/\/+$/, '');
  if (p === '.' || p === '') return base;
  return `${base}/${p.replace(/^\.\//, '')}`;
}

/** `exec <runtime> run ...` as one shell command: CMD is appended as written so its quoting holds. */
export function containerCommand(s: OrchService, runtime: string, vars: Vars): string {
  const name = `${vars.get('CONTAINER_PREFIX') ?? ''}${s.name}`;
  const args: string[] = [runtime, 'run', '--rm', '--name', name];
  for (const p of s.publish) {
    const addr =
      p.address === undefined
        ? ''
        : p.address.includes(':') && !p.address.startsWith('[')
          ? `[${p.address}]:`
          : `${p.address}:`;
    args.push('-p', `${addr}${p.host}:${p.container}`);
  }
  for (const v of s.volumes) {
    const source = v.isNamed ? subst(v.source, vars) : projectPath(v.source, vars);
    args.push('-v', `${source}:${subst(v.destination, vars)}`);
  }
  for (const f of s.envFiles) args.push('--env-file', projectPath(f, vars));
  for (const [k, v] of Object.entries(s.env)) args.push('-e', `${k}=${subst(v, vars)}`);
  if (s.workdir !== undefined) args.push('-w', subst(s.workdir, vars));
  const r = s.resources;
  if (r.memory !== undefined) args.push('--memory', r.memory);
  const cpus = r.cpuQuota !== undefined ? parseInt(r.cpuQuota, 10) / 100 : r.cpus;
  if (cpus !== undefined) args.push('--cpus', String(cpus));
  if (r.limitNofile !== undefined) args.push('--ulimit', `nofile=${r.limitNofile}:${r.limitNofile}`);
  if (r.limitNproc !== undefined) args.push('--ulimit', `nproc=${r.limitNproc}:${r.limitNproc}`);
  if (r.tasksMax !== undefined) args.push('--pids-limit', String(r.tasksMax));
  if (r.ioWeight !== undefined) args.push('--blkio-weight', String(r.ioWeight));
  if (s.entrypoint !== undefined) args.push('--entrypoint', subst(s.entrypoint, vars));
  args.push(s.image ?? '');
  const cmd = s.cmd === undefined ? '' : ` ${subst(s.cmd, vars)}`;
  return `exec ${args.map((a) => shellQuote(a)).join(' ')}${cmd}`;
}

/** Seconds in a `30s`/`5m` duration (already validated by the parser; values.ts parses it). */
export function seconds(duration: string): number {
  return durationSeconds(duration) ?? 0;
}

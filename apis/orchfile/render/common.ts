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
  /**
   * systemd: the project's name. As under `orch up`, container services join the network
   * `<CONTAINER_PREFIX><project>_default` with their service names as aliases, and a named VOLUME
   * is `<CONTAINER_PREFIX><project>_<name>`. Default: ORCH_PROJECT's directory name (lowercased,
   * [a-z0-9_-] only, else `orch`).
   */
  readonly project?: string;
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

/**
 * `exec <runtime> run ...` as one shell command: CMD is appended as written so its quoting holds.
 * With `project` (projectName), the container joins `<project>_default` with its service name as
 * an alias and named volumes are `<project>_<name>`, as under `orch up`.
 */
export function containerCommand(s: OrchService, runtime: string, vars: Vars, project?: string): string {
  const name = `${vars.get('CONTAINER_PREFIX') ?? ''}${s.name}`;
  const args: string[] = [runtime, 'run', '--rm', '--name', name];
  if (project !== undefined) args.push('--network', `${project}_default`, '--network-alias', s.name);
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
    const named = project === undefined ? subst(v.source, vars) : `${project}_${subst(v.source, vars)}`;
    const source = v.isNamed ? named : projectPath(v.source, vars);
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

/** `<CONTAINER_PREFIX><project>`: what rendered container networks and volumes are named after (as orch up's). */
export function projectName(opts: RenderOptions, vars: Vars): string {
  const dir = (vars.get('ORCH_PROJECT') ?? '.').replace(/\/+$/, '');
  const raw = opts.project ?? dir.slice(dir.lastIndexOf('/') + 1);
  return `${vars.get('CONTAINER_PREFIX') ?? ''}${cleanProjectName(raw)}`;
}

/** A project name as orch uses it: lowercased, [a-z0-9_-] only, else `orch`. */
export function cleanProjectName(raw: string): string {
  return raw.toLowerCase().replace(/[^a-z0-9_-]/g, '') || 'orch';
}

/** Seconds in a `30s`/`5m` duration (already validated by the parser; values.ts parses it). */
export function seconds(duration: string): number {
  return durationSeconds(duration) ?? 0;
}

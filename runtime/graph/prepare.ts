/**
 * From the parsed graph to what the drivers run: built-in variables (`${ORCH_PROJECT}`,
 * `${SERVICE_NAME}` ...) expanded, paths resolved against the project, durations in ms, ENV_FILE
 * read, and the set of services to run (DISABLED ones only when named or required).
 */
import { OrunError } from '../../apis/errors.ts';
import { durationSeconds, type OrchGraph, type OrchService } from '../../apis/orchfile/index.ts';
import { builtinVars, projectPath, subst, type Vars } from '../../apis/orchfile/render/index.ts';
import { parseEnvFile } from '../../apis/orchfile/render/index.ts';

/** Spec defaults (Orchfile spec, "Directives Reference"). */
export const DEFAULTS = {
  readinessTimeoutMs: 90_000,
  stopTimeoutMs: 10_000,
  restartDelayMs: 1_000,
  startLimitBurst: 5,
  startLimitIntervalMs: 10_000,
} as const;

export interface PreparedService {
  readonly spec: OrchService;
  readonly name: string;
  readonly vars: Vars;
  /** Environment from ENV_FILE (in order) then ENV, built-ins expanded. */
  readonly env: Record<string, string>;
  /** Absolute working directory (host: default ORCH_PROJECT; container: undefined unless WORKDIR). */
  readonly workdir?: string;
  readonly healthcheck?: string;
  readonly readinessTimeoutMs: number;
  /** TIMEOUT_START when set: a ONESHOT must finish within it. */
  readonly startTimeoutMs?: number;
  readonly stopTimeoutMs: number;
  readonly restartDelayMs: number;
  readonly startLimitBurst: number;
  readonly startLimitIntervalMs: number;
  /** `${}` expanded (host). */
  readonly command?: string;
  readonly stopCommand?: string;
  readonly reloadCommand?: string;
  /** STDOUT/STDERR as absolute paths. */
  readonly stdoutFile?: string;
  readonly stderrFile?: string;
}

export interface PrepareOptions {
  /** Built-in variable values (ORCH_PROJECT must be absolute). See `builtinVars` for defaults. */
  readonly vars: Readonly<Record<string, string>>;
  /** Reads an ENV_FILE; throws when it cannot. */
  readonly readFile: (path: string) => string;
}

export function prepareService(spec: OrchService, opts: PrepareOptions): PreparedService {
  const vars = builtinVars({ vars: opts.vars }, spec.name);
  const env: Record<string, string> = {};
  for (const f of spec.envFiles) {
    const path = projectPath(f, vars);
    let text: string;
    try {
      text = opts.readFile(path);
    } catch (err) {
      throw new OrunError('EnvFileUnreadable', `read ENV_FILE ${path}: ${(err as Error).message}`, {
        cause: err,
        context: { service: spec.name, path },
      });
    }
    Object.assign(env, parseEnvFile(text));
  }
  for (const [k, v] of Object.entries(spec.env)) env[k] = subst(v, vars);
  const ms = (d: string | undefined): number | undefined =>
    d === undefined ? undefined : (durationSeconds(d) ?? 0) * 1000;
  const opt = (s: string | undefined): string | undefined => (s === undefined ? undefined : subst(s, vars));
  const path = (s: string | undefined): string | undefined =>
    s === undefined ? undefined : projectPath(s, vars);
  return {
    spec,
    name: spec.name,
    vars,
    env,
    workdir: spec.mode === 'host' ? projectPath(spec.workdir ?? '.', vars) : opt(spec.workdir),
    healthcheck: opt(spec.healthcheck),
    readinessTimeoutMs: ms(spec.readinessTimeout) ?? ms(spec.timeouts.start) ?? DEFAULTS.readinessTimeoutMs,
    startTimeoutMs: ms(spec.timeouts.start),
    stopTimeoutMs: ms(spec.timeouts.stop) ?? DEFAULTS.stopTimeoutMs,
    restartDelayMs: ms(spec.restart.delay) ?? DEFAULTS.restartDelayMs,
    startLimitBurst: spec.restart.startLimitBurst ?? DEFAULTS.startLimitBurst,
    startLimitIntervalMs: ms(spec.restart.startLimitInterval) ?? DEFAULTS.startLimitIntervalMs,
    command: opt(spec.runCommand),
    stopCommand: opt(spec.stopCommand),
    reloadCommand: opt(spec.reloadCommand),
    stdoutFile: path(spec.logging.stdout),
    stderrFile: path(spec.logging.stderr),
  };
}

/**
 * The services to run, in file order: the named ones (DISABLED included) or, with none named,
 * every service that is not DISABLED; plus everything those REQUIRE, transitively (a required
 * service is started even when DISABLED, as systemd's Requires= pulls a unit in).
 * Rejects `UnknownService` for a name the graph lacks.
 */
export function selectServices(graph: OrchGraph, names: readonly string[] = []): OrchService[] {
  const byName = new Map(graph.services.map((s) => [s.name, s]));
  for (const n of names) {
    if (!byName.has(n)) {
      throw new OrunError('UnknownService', `no service named '${n}' in the Orchfiles`, {
        context: { service: n },
      });
    }
  }
  const roots = names.length > 0 ? names : graph.services.filter((s) => !s.disabled).map((s) => s.name);
  const chosen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (chosen.has(n)) continue;
    chosen.add(n);
    stack.push(...byName.get(n)!.requires);
  }
  return graph.services.filter((s) => chosen.has(s.name));
}

/**
 * Splits CMD/ENTRYPOINT text into argv the way a POSIX shell splits words: single and double
 * quotes, backslash escapes; no expansion (`CMD -g 'daemon off;'` → `['-g', 'daemon off;']`).
 */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) cur += text[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

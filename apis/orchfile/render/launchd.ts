/**
 * launchd property lists, one `<prefix><name>.plist` per service, as the spec maps directives:
 * RESTART → KeepAlive (always: true; on-failure: SuccessfulExit=false; no: false),
 * RESTART_DELAY → ThrottleInterval, TIMEOUT_STOP → ExitTimeOut, LIMIT_NOFILE/LIMIT_NPROC →
 * Soft/HardResourceLimits, USER → UserName, ENV_FILE inlined into EnvironmentVariables,
 * STDOUT/STDERR (default `${ORCH_STATE_DIR}/logs/<name>.log|.err`). MEMORY, CPUS and the like
 * are advisory on macOS and only reach container services as runtime flags.
 */
import type { OrchGraph, OrchService } from '../types.ts';
import {
  builtinVars,
  containerCommand,
  projectPath,
  seconds,
  subst,
  type RenderedFile,
  type RenderOptions,
} from './common.ts';

export function renderLaunchd(graph: OrchGraph, opts: RenderOptions = {}): RenderedFile[] {
  const prefix = opts.prefix ?? 'orch.';
  return graph.services.map((s) => ({
    name: `${prefix}${s.name}.plist`,
    content: renderPlist(s, prefix, opts),
  }));
}

type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };

function renderPlist(s: OrchService, prefix: string, opts: RenderOptions): string {
  const vars = builtinVars(opts, s.name);
  const runtime = opts.containerRuntime ?? '/usr/local/bin/container';
  const command =
    s.mode === 'container' ? containerCommand(s, runtime, vars) : `exec ${subst(s.runCommand ?? '', vars)}`;
  const d: Record<string, PlistValue> = {
    Label: `${prefix}${s.name}`,
    ProgramArguments: ['/bin/sh', '-c', command],
  };
  if (s.mode === 'host') {
    d.WorkingDirectory = projectPath(s.workdir ?? '.', vars);
    const env = Object.create(null) as Record<string, string>;
    for (const f of s.envFiles)
      Object.assign(env, parseEnvFile(opts.readEnvFile?.(projectPath(f, vars)) ?? ''));
    for (const [k, v] of Object.entries(s.env)) env[k] = subst(v, vars);
    if (Object.keys(env).length > 0) d.EnvironmentVariables = env;
    if (s.user !== undefined) d.UserName = s.user;
  }
  d.RunAtLoad = !s.disabled;
  d.KeepAlive =
    s.restart.policy === 'always'
      ? true
      : s.restart.policy === 'on-failure'
        ? { SuccessfulExit: false }
        : false;
  if (s.restart.delay !== undefined) d.ThrottleInterval = seconds(s.restart.delay);
  if (s.timeouts.stop !== undefined) d.ExitTimeOut = seconds(s.timeouts.stop);
  const limits: Record<string, PlistValue> = {};
  if (s.resources.limitNofile !== undefined) limits.NumberOfFiles = s.resources.limitNofile;
  if (s.resources.limitNproc !== undefined) limits.NumberOfProcesses = s.resources.limitNproc;
  if (Object.keys(limits).length > 0) {
    d.SoftResourceLimits = limits;
    d.HardResourceLimits = limits;
  }
  d.StandardOutPath = projectPath(s.logging.stdout ?? '${ORCH_STATE_DIR}/logs/${SERVICE_NAME}.log', vars);
  d.StandardErrorPath = projectPath(s.logging.stderr ?? '${ORCH_STATE_DIR}/logs/${SERVICE_NAME}.err', vars);

  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    ...value(d, ''),
    '</plist>',
    '',
  ].join('\n');
}

function value(v: PlistValue, indent: string): string[] {
  if (typeof v === 'string') return [`${indent}<string>${xml(v)}</string>`];
  if (typeof v === 'number') return [`${indent}<integer>${v}</integer>`];
  if (typeof v === 'boolean') return [`${indent}<${v}/>`];
  if (Array.isArray(v))
    return [`${indent}<array>`, ...v.flatMap((x) => value(x, `${indent}  `)), `${indent}</array>`];
  return [
    `${indent}<dict>`,
    ...Object.entries(v).flatMap(([k, x]) => [`${indent}  <key>${xml(k)}</key>`, ...value(x, `${indent}  `)]),
    `${indent}</dict>`,
  ];
}

/** XML text escaping; characters XML 1.0 cannot hold at all are dropped. */
function xml(s: string): string {
  return s
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

/** `KEY=value` lines; `#` comments and blank lines skipped; an optional `export ` prefix allowed. */
export function parseEnvFile(text: string): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line
      .slice(0, eq)
      .replace(/^export\s+/, '')
      .trim();
    let val = line.slice(eq + 1).trim();
    if (val.length >= 2 && (val[0] === '"' || val[0] === "'") && val.endsWith(val[0])) val = val.slice(1, -1);
    out[key] = val;
  }
  return out;
}

// Helpers shared by the Orchfile conformance and CLI suites.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import {
  formatOrchfileError,
  parseOrchfiles,
  type OrchGraph,
  type OrchService,
  type ParseOptions,
} from '../../apis/orchfile/index.ts';

export const FIXTURES = join(import.meta.dirname, 'fixtures');
export const GOLDEN = join(import.meta.dirname, 'golden');
export const ORCH = join(import.meta.dirname, '..', '..', 'dist', 'orch.js');

/** Parses one or more texts (named a.orch, b.orch, ...) and expects success. */
export function graphOf(texts: string | string[], opts: ParseOptions = {}): OrchGraph {
  const r = parseOrchfiles(sources(texts), opts);
  if (!r.ok) throw new Error(`expected success, got:\n${r.errors.map(formatOrchfileError).join('\n')}`);
  return r.graph;
}

/** The one service named `name` (or the only one). */
export function serviceOf(texts: string | string[], name?: string, opts: ParseOptions = {}): OrchService {
  const g = graphOf(texts, opts);
  const s = name === undefined ? g.services[0] : g.services.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no service ${name}`);
  return s;
}

/** Parses and expects failure; returns the formatted errors (`a.orch:1:1: ...`). */
export function errorsOf(texts: string | string[], opts: ParseOptions = {}): string[] {
  const r = parseOrchfiles(sources(texts), opts);
  if (r.ok) throw new Error('expected errors, got a valid graph');
  return r.errors.map(formatOrchfileError);
}

function sources(texts: string | string[]): { path: string; text: string }[] {
  const list = Array.isArray(texts) ? texts : [texts];
  return list.map((text, i) => ({ path: `${String.fromCharCode(97 + i)}.orch`, text }));
}

/** Compares with a golden file; `UPDATE_GOLDEN=1` rewrites it instead. */
export function expectGolden(name: string, actual: string): void {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
  }
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (dist/orch.js) with Node, in `cwd`, with `env` added to a clean environment. */
export function orch(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [ORCH, ...args], {
    cwd: opts.cwd ?? FIXTURES,
    env: { PATH: process.env.PATH, ...opts.env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export { execFileSync };

/**
 * Stage 1: one file's text to its RawFile. Checks line syntax only (directive names, `=` and `:`
 * where the grammar needs them, service names, CLEAR targets, ORCH_VERSION); values are checked
 * after ARG expansion and merging. Never throws: every problem becomes a positioned error.
 */
import { ALL_DIRECTIVES, isListDirective, isScalarDirective } from './directives.ts';
import { errorAt, type OrchfileError } from './errors.ts';
import { isWhitespace, Lexer, type DirectiveLine } from './lexer.ts';
import {
  listOf,
  newRawService,
  type Located,
  type RawArg,
  type RawEnv,
  type RawFile,
  type RawPublish,
  type RawService,
  type RawVolume,
} from './raw.ts';
import { didYouMean } from '../suggest.ts';
import { ORCHFILE_SPEC_VERSION, type SourcePos } from './types.ts';
import { checkArgName, checkServiceName } from './values.ts';

export interface ParsedFile {
  readonly file: RawFile;
  readonly errors: OrchfileError[];
}

export function parseFile(path: string, text: string): ParsedFile {
  const p = new FileParser(path);
  for (const l = new Lexer(text); l.next();) p.line(l);
  return { file: { path, args: p.args, services: p.services }, errors: p.errors };
}

/** One file's parse state: what it has said so far, the SERVICE block being read, the errors. */
class FileParser {
  readonly path: string;
  readonly errors: OrchfileError[] = [];
  readonly args: RawArg[] = [];
  readonly services: RawService[] = [];
  /** Service name → the line of its SERVICE. */
  readonly #seen = new Map<string, number>();
  #current: RawService | undefined;
  // A SERVICE with a bad or repeated name still gets a block, so its directives are checked
  // but not kept, and do not cascade into "outside of SERVICE block" errors.
  #discarded = false;
  #versionLine: number | undefined;

  constructor(path: string) {
    this.path = path;
  }

  line(l: DirectiveLine): void {
    const valuePos = this.#at(l, l.valueCol);
    if (l.directive === 'ARG') {
      const arg = parseArg(l, valuePos, this.errors);
      if (arg !== undefined) this.args.push(arg);
    } else if (l.directive === 'ORCH_VERSION') {
      this.#version(l, valuePos);
    } else if (l.directive === 'SERVICE') {
      this.#service(l, valuePos);
    } else {
      this.#directive(l, valuePos);
    }
  }

  #at(l: DirectiveLine, col = l.col): SourcePos {
    return { file: this.path, line: l.line, col };
  }

  #fail(pos: SourcePos, code: OrchfileError['code'], message: string, extra?: ErrorExtra): void {
    this.errors.push(errorAt(pos, code, message, extra));
  }

  #version(l: DirectiveLine, valuePos: SourcePos): void {
    const value = l.value;
    if (this.#current !== undefined || this.services.length > 0 || this.#discarded) {
      this.#fail(this.#at(l), 'version', 'ORCH_VERSION must appear before any SERVICE');
    } else if (this.#versionLine !== undefined) {
      this.#fail(
        this.#at(l),
        'version',
        `duplicate ORCH_VERSION directive (first defined at line ${this.#versionLine})`,
      );
    } else if (value === '') {
      this.#versionLine = l.line;
      this.#fail(this.#at(l), 'version', 'ORCH_VERSION requires a version value');
    } else {
      this.#versionLine = l.line;
      if (value !== ORCHFILE_SPEC_VERSION) {
        this.#fail(
          valuePos,
          'version',
          `unsupported Orchfile version '${value}' (this parser supports ${ORCHFILE_SPEC_VERSION})`,
        );
      }
    }
  }

  /** Opens a block: a kept one for a good, new name; a discarded one otherwise. */
  #service(l: DirectiveLine, valuePos: SourcePos): void {
    const name = l.value;
    this.#current = undefined;
    this.#discarded = true;
    if (name === '') {
      this.#fail(this.#at(l), 'syntax', 'SERVICE requires a name');
      return;
    }
    const bad = checkServiceName(name);
    if (bad !== undefined) {
      this.#fail(valuePos, 'invalid-name', bad);
      return;
    }
    const first = this.#seen.get(name);
    if (first !== undefined) {
      this.#fail(
        valuePos,
        'duplicate-service',
        `duplicate service name '${name}' (first defined at line ${first})`,
      );
      return;
    }
    this.#seen.set(name, l.line);
    this.#current = newRawService(name, this.#at(l));
    this.services.push(this.#current);
    this.#discarded = false;
  }

  /** A directive of a SERVICE block: CLEAR, a scalar, or a list entry. */
  #directive(l: DirectiveLine, valuePos: SourcePos): void {
    const d = l.directive;
    const scalar = isScalarDirective(d);
    const known = scalar || d === 'CLEAR' || isListDirective(d);
    if (!known) {
      this.#fail(this.#at(l), 'unknown-directive', `unknown directive '${d}'`, {
        hint: didYouMean(d, ALL_DIRECTIVES),
      });
      return;
    }
    if (this.#current === undefined && !this.#discarded) {
      const message =
        d === 'CLEAR' ? 'CLEAR outside of SERVICE block' : `directive '${d}' outside of SERVICE block`;
      this.#fail(this.#at(l), 'outside-service', message);
      return;
    }
    // Directives of a discarded block are checked against a throwaway service.
    const svc = this.#current ?? newRawService('', this.#at(l));
    const service = this.#current?.name;
    if (d === 'CLEAR') {
      parseClear(l, valuePos, svc, service, this.errors);
    } else if (l.value === '') {
      this.#fail(this.#at(l), 'syntax', `${d} requires a value`, { service });
    } else if (scalar) {
      const prev = svc.scalars.get(d);
      if ((d === 'FROM' || d === 'RUN') && prev !== undefined) {
        this.#fail(
          this.#at(l),
          'duplicate-directive',
          `duplicate ${d} directive (first defined at line ${prev.pos.line})`,
          { service },
        );
        return;
      }
      svc.scalars.set(d, { value: l.value, pos: valuePos });
    } else {
      parseListEntry(d, l, valuePos, svc, service, this.errors);
    }
  }
}

type ErrorExtra = Parameters<typeof errorAt>[3];

function parseArg(l: DirectiveLine, pos: SourcePos, errors: OrchfileError[]): RawArg | undefined {
  const eq = l.value.indexOf('=');
  if (l.value === '') {
    errors.push(errorAt({ ...pos, col: l.col }, 'syntax', 'ARG requires name=value'));
    return undefined;
  }
  if (eq < 0) {
    errors.push(errorAt(pos, 'syntax', `invalid ARG format '${l.value}', expected name=value`));
    return undefined;
  }
  const name = l.value.slice(0, eq);
  if (name === '') {
    errors.push(errorAt(pos, 'syntax', 'ARG name cannot be empty'));
    return undefined;
  }
  const bad = checkArgName(name);
  if (bad !== undefined) {
    errors.push(errorAt(pos, 'invalid-name', bad));
    return undefined;
  }
  return { name, value: l.value.slice(eq + 1), pos };
}

function parseClear(
  l: DirectiveLine,
  pos: SourcePos,
  svc: RawService,
  service: string | undefined,
  errors: OrchfileError[],
): void {
  const target = l.value;
  if (target === '') {
    errors.push(
      errorAt({ ...pos, col: l.col }, 'syntax', 'CLEAR requires a target directive name', { service }),
    );
    return;
  }
  if (isListDirective(target)) {
    const list = listOf(svc, target);
    list.cleared = true;
    list.entries = [];
    return;
  }
  if (isScalarDirective(target)) {
    errors.push(
      errorAt(
        pos,
        'clear-target',
        `CLEAR cannot target scalar directive '${target}' (scalars override by last-wins)`,
        {
          service,
        },
      ),
    );
    return;
  }
  errors.push(
    errorAt(pos, 'clear-target', `CLEAR targets unknown directive '${target}'`, {
      service,
      hint: didYouMean(target, ['ENV', 'ENV_FILE', 'PUBLISH', 'VOLUME', 'REQUIRES', 'AFTER']),
    }),
  );
}

function parseListEntry(
  d: string,
  l: DirectiveLine,
  pos: SourcePos,
  svc: RawService,
  service: string | undefined,
  errors: OrchfileError[],
): void {
  const fail = (message: string): void => {
    errors.push(errorAt(pos, 'syntax', message, { service }));
  };
  const v = l.value;
  switch (d) {
    case 'ENV': {
      const env = parseEnv(v);
      if (typeof env === 'string') fail(env);
      else svc.env.entries.push({ value: env, pos });
      return;
    }
    case 'PUBLISH': {
      const publish = parsePublish(v);
      if (typeof publish === 'string') fail(publish);
      else svc.publish.entries.push({ value: publish, pos });
      return;
    }
    case 'VOLUME': {
      const volume = parseVolume(v);
      if (typeof volume === 'string') fail(volume);
      else svc.volumes.entries.push({ value: volume, pos });
      return;
    }
    case 'ENV_FILE':
      svc.envFiles.entries.push({ value: v, pos });
      return;
    case 'REQUIRES':
    case 'AFTER':
      (d === 'REQUIRES' ? svc.requires : svc.after).entries.push(...splitNames(v, pos));
      return;
  }
}

/** `KEY=value`, or what is wrong with it. */
function parseEnv(v: string): RawEnv | string {
  const eq = v.indexOf('=');
  if (eq < 0) return `invalid ENV format '${v}', expected KEY=value`;
  if (eq === 0) return 'ENV key cannot be empty';
  return { key: v.slice(0, eq), value: v.slice(eq + 1) };
}

/**
 * `[address:]host:container`, or what is wrong with it. The last two `:` parts are the ports, so
 * IPv6 addresses keep theirs.
 */
function parsePublish(v: string): RawPublish | string {
  const last = v.lastIndexOf(':');
  if (last < 0) return `invalid PUBLISH format '${v}', expected [address:]host_port:container_port`;
  const before = last > 0 ? v.lastIndexOf(':', last - 1) : -1;
  return {
    address: before < 0 ? '' : v.slice(0, before),
    host: v.slice(before + 1, last),
    container: v.slice(last + 1),
  };
}

/** `source:destination`, or what is wrong with it. */
function parseVolume(v: string): RawVolume | string {
  const colon = v.indexOf(':');
  if (colon <= 0 || colon === v.length - 1) {
    return `invalid VOLUME format '${v}', expected source:destination`;
  }
  return { source: v.slice(0, colon), destination: v.slice(colon + 1) };
}

/** Whitespace-separated names, each at its own column. */
function splitNames(v: string, pos: SourcePos): Located[] {
  const out: Located[] = [];
  for (let i = 0; i < v.length;) {
    while (i < v.length && isWhitespace(v.charCodeAt(i))) i++;
    if (i === v.length) break;
    const start = i;
    while (i < v.length && !isWhitespace(v.charCodeAt(i))) i++;
    out.push({ value: v.slice(start, i), pos: { file: pos.file, line: pos.line, col: pos.col + start } });
  }
  return out;
}

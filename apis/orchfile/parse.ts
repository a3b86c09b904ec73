/**
 * Stage 1: one file's text to its RawFile. Checks line syntax only (directive names, `=` and `:`
 * where the grammar needs them, service names, CLEAR targets, ORCH_VERSION); values are checked
 * after ARG expansion and merging. Never throws: every problem becomes a positioned error.
 */
import { ALL_DIRECTIVES, isListDirective, isScalarDirective } from './directives.ts';
import { errorAt, type OrchfileError } from './errors.ts';
import { isWhitespace, Lexer, type DirectiveLine } from './lexer.ts';
import { listOf, newRawService, type RawArg, type RawFile, type RawService } from './raw.ts';
import { didYouMean } from '../suggest.ts';
import { ORCHFILE_SPEC_VERSION, type SourcePos } from './types.ts';
import { checkArgName, checkServiceName } from './values.ts';

export interface ParsedFile {
  readonly file: RawFile;
  readonly errors: OrchfileError[];
}

export function parseFile(path: string, text: string): ParsedFile {
  const errors: OrchfileError[] = [];
  const args: RawArg[] = [];
  const services: RawService[] = [];
  const seen = new Map<string, number>();
  let current: RawService | undefined;
  // A SERVICE with a bad or repeated name still gets a block, so its directives are checked
  // but not kept, and do not cascade into "outside of SERVICE block" errors.
  let discarded = false;
  let versionLine: number | undefined;

  const at = (l: DirectiveLine, col = l.col): SourcePos => ({ file: path, line: l.line, col });

  for (const l = new Lexer(text); l.next();) {
    const { directive: d, value } = l;
    const valuePos = at(l, l.valueCol);

    if (d === 'ARG') {
      const arg = parseArg(l, valuePos, errors);
      if (arg !== undefined) args.push(arg);
      continue;
    }

    if (d === 'ORCH_VERSION') {
      if (current !== undefined || services.length > 0 || discarded) {
        errors.push(errorAt(at(l), 'version', 'ORCH_VERSION must appear before any SERVICE'));
      } else if (versionLine !== undefined) {
        errors.push(
          errorAt(
            at(l),
            'version',
            `duplicate ORCH_VERSION directive (first defined at line ${versionLine})`,
          ),
        );
      } else if (value === '') {
        versionLine = l.line;
        errors.push(errorAt(at(l), 'version', 'ORCH_VERSION requires a version value'));
      } else {
        versionLine = l.line;
        if (value !== ORCHFILE_SPEC_VERSION) {
          errors.push(
            errorAt(
              valuePos,
              'version',
              `unsupported Orchfile version '${value}' (this parser supports ${ORCHFILE_SPEC_VERSION})`,
            ),
          );
        }
      }
      continue;
    }

    if (d === 'SERVICE') {
      current = undefined;
      discarded = true;
      if (value === '') {
        errors.push(errorAt(at(l), 'syntax', 'SERVICE requires a name'));
        continue;
      }
      const bad = checkServiceName(value);
      if (bad !== undefined) {
        errors.push(errorAt(valuePos, 'invalid-name', bad));
        continue;
      }
      const first = seen.get(value);
      if (first !== undefined) {
        errors.push(
          errorAt(
            valuePos,
            'duplicate-service',
            `duplicate service name '${value}' (first defined at line ${first})`,
          ),
        );
        continue;
      }
      seen.set(value, l.line);
      current = newRawService(value, at(l));
      services.push(current);
      discarded = false;
      continue;
    }

    const scalar = isScalarDirective(d);
    const known = scalar || d === 'CLEAR' || isListDirective(d);
    if (!known) {
      errors.push(
        errorAt(at(l), 'unknown-directive', `unknown directive '${d}'`, {
          hint: didYouMean(d, ALL_DIRECTIVES),
        }),
      );
      continue;
    }
    if (current === undefined && !discarded) {
      const message =
        d === 'CLEAR' ? 'CLEAR outside of SERVICE block' : `directive '${d}' outside of SERVICE block`;
      errors.push(errorAt(at(l), 'outside-service', message));
      continue;
    }
    // Directives of a discarded block are checked against a throwaway service.
    const svc = current ?? newRawService('', at(l));
    const service = current?.name;

    if (d === 'CLEAR') {
      parseClear(l, valuePos, svc, service, errors);
      continue;
    }
    if (value === '') {
      errors.push(errorAt(at(l), 'syntax', `${d} requires a value`, { service }));
      continue;
    }
    if (scalar) {
      const prev = svc.scalars.get(d);
      if ((d === 'FROM' || d === 'RUN') && prev !== undefined) {
        errors.push(
          errorAt(
            at(l),
            'duplicate-directive',
            `duplicate ${d} directive (first defined at line ${prev.pos.line})`,
            {
              service,
            },
          ),
        );
        continue;
      }
      svc.scalars.set(d, { value, pos: valuePos });
      continue;
    }
    parseListEntry(d, l, valuePos, svc, service, errors);
  }
  return { file: { path, args, services }, errors };
}

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
  const v = l.value;
  switch (d) {
    case 'ENV': {
      const eq = v.indexOf('=');
      if (eq < 0) {
        errors.push(errorAt(pos, 'syntax', `invalid ENV format '${v}', expected KEY=value`, { service }));
      } else if (eq === 0) {
        errors.push(errorAt(pos, 'syntax', 'ENV key cannot be empty', { service }));
      } else {
        svc.env.entries.push({ value: { key: v.slice(0, eq), value: v.slice(eq + 1) }, pos });
      }
      return;
    }
    case 'PUBLISH': {
      // [address:]host:container — the last two `:` parts are the ports, so IPv6 addresses keep theirs.
      const last = v.lastIndexOf(':');
      if (last < 0) {
        errors.push(
          errorAt(
            pos,
            'syntax',
            `invalid PUBLISH format '${v}', expected [address:]host_port:container_port`,
            {
              service,
            },
          ),
        );
        return;
      }
      const before = last > 0 ? v.lastIndexOf(':', last - 1) : -1;
      svc.publish.entries.push({
        value: {
          address: before < 0 ? '' : v.slice(0, before),
          host: v.slice(before + 1, last),
          container: v.slice(last + 1),
        },
        pos,
      });
      return;
    }
    case 'VOLUME': {
      const colon = v.indexOf(':');
      if (colon <= 0 || colon === v.length - 1) {
        errors.push(
          errorAt(pos, 'syntax', `invalid VOLUME format '${v}', expected source:destination`, { service }),
        );
        return;
      }
      svc.volumes.entries.push({
        value: { source: v.slice(0, colon), destination: v.slice(colon + 1) },
        pos,
      });
      return;
    }
    case 'ENV_FILE':
      svc.envFiles.entries.push({ value: v, pos });
      return;
    case 'REQUIRES':
    case 'AFTER': {
      const list = d === 'REQUIRES' ? svc.requires : svc.after;
      // Whitespace-separated names, each at its own column.
      for (let i = 0; i < v.length;) {
        while (i < v.length && isWhitespace(v.charCodeAt(i))) i++;
        if (i === v.length) break;
        const start = i;
        while (i < v.length && !isWhitespace(v.charCodeAt(i))) i++;
        list.entries.push({
          value: v.slice(start, i),
          pos: { file: pos.file, line: pos.line, col: pos.col + start },
        });
      }
      return;
    }
  }
}

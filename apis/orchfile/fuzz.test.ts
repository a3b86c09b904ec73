// Property tests: the parser never throws, and every failure is a non-empty list of positioned errors.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALL_DIRECTIVES } from './directives.ts';
import { parseOrchfiles, type ParseResult } from './index.ts';

const VALID = `ARG port=5433
SERVICE postgres
FROM pgvector/pgvector:pg15
PUBLISH \${port}:5432
VOLUME data:/var/lib/postgresql/data
ENV POSTGRES_USER=postgres
HEALTHCHECK pg_isready -p \${port}
RESTART on-failure
SERVICE django
RUN python manage.py runserver
REQUIRES postgres
AFTER localstack
MEMORY 2G
CPU_QUOTA 50%
TIMEOUT_START 60s
`;

function checkResult(r: ParseResult, files: { path: string; text: string }[]): void {
  if (r.ok) return;
  expect(r.errors.length).toBeGreaterThan(0);
  const paths = new Set(files.map((f) => f.path));
  for (const e of r.errors) {
    expect(paths.has(e.file)).toBe(true);
    expect(e.line).toBeGreaterThanOrEqual(1);
    expect(e.col).toBeGreaterThanOrEqual(1);
    expect(e.message.length).toBeGreaterThan(0);
  }
}

const word = fc.oneof(
  fc.constantFrom(
    ...ALL_DIRECTIVES,
    'SERVICE',
    'CLEAR',
    '#',
    '${',
    '}',
    '=',
    ':',
    'true',
    '30s',
    '4G',
    '50%',
    '0',
  ),
  fc.string({ maxLength: 8 }),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/),
);
const line = fc.array(word, { maxLength: 5 }).map((ws) => ws.join(' '));
const orchfile = fc.array(line, { maxLength: 30 }).map((ls) => ls.join('\n'));
const overrides = fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 });

describe('parser robustness', () => {
  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', maxLength: 300 }), { minLength: 1, maxLength: 3 }),
        (texts) => {
          const files = texts.map((text, i) => ({ path: `f${i}`, text }));
          checkResult(parseOrchfiles(files), files);
        },
      ),
      { numRuns: 300 },
    );
  }, 30_000);

  it('never throws on directive-shaped text, overlays and overrides', () => {
    fc.assert(
      fc.property(fc.array(orchfile, { minLength: 1, maxLength: 3 }), overrides, (texts, args) => {
        const files = texts.map((text, i) => ({ path: `f${i}`, text }));
        checkResult(parseOrchfiles(files, { args, env: { ORCH_ARG_port: '1' } }), files);
      }),
      { numRuns: 1000 },
    );
  }, 30_000);

  it('never throws on mutations of a valid Orchfile', () => {
    const lines = VALID.split('\n');
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: line }),
      fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), to: fc.nat() }),
      fc.record({
        kind: fc.constant('char' as const),
        at: fc.nat(),
        pos: fc.nat(),
        ch: fc.string({ maxLength: 2 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { maxLength: 6 }), (ms) => {
        const ls = [...lines];
        for (const m of ms) {
          const i = m.at % ls.length;
          if (m.kind === 'delete') ls.splice(i, 1);
          else if (m.kind === 'insert') ls.splice(i, 0, m.text);
          else if (m.kind === 'swap') [ls[i], ls[m.to % ls.length]] = [ls[m.to % ls.length]!, ls[i]!];
          else {
            const l = ls[i]!;
            const p = m.pos % (l.length + 1);
            ls[i] = l.slice(0, p) + m.ch + l.slice(p + 1);
          }
          if (ls.length === 0) ls.push('');
        }
        const files = [{ path: 'Orchfile', text: ls.join('\n') }];
        checkResult(parseOrchfiles(files), files);
      }),
      { numRuns: 1000 },
    );
  }, 30_000);

  it('the unmutated file is valid', () => {
    expect(parseOrchfiles([{ path: 'Orchfile', text: VALID }]).ok).toBe(true);
  });
});

// Fuzzers over the two parsers that read what users push: the manifest decoder and the Orchfile
// parser. Properties: never throws; every failure is a positioned error of the file it read.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { parseOrchfiles } from '../../apis/orchfile/index.ts';
import { decodeManifestFile } from '../../apis/run.orcra.dev/v0alpha/decode.ts';
import { envCount, recordScenario } from './report.ts';

const RUNS = envCount('CHAOS_FUZZ_RUNS', 20_000);

const VALID = `apiVersion: run.orcra.dev/v0alpha
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  image: nginx:1
  ports:
    - containerPort: 80
      port: 8080
  volumes:
    - hostPath: /srv/web
      containerPath: /data
  env:
    A: "1"
  health:
    readiness:
      http: localhost:80/health
---
apiVersion: run.orcra.dev/v0alpha
kind: Service
metadata:
  name: web
spec:
  deployment: web
  ingress:
    domain:
      default: web.example.com
`;

const TOKENS = [
  '',
  ' ',
  '\n',
  '- ',
  ': ',
  '{}',
  '[]',
  'null',
  '~',
  '&a ',
  '*a',
  '!!str ',
  '"',
  "'",
  '#',
  '---',
  'spec:',
  'spec:\n',
  'image:',
  'build:',
  'kind: Node',
  'kind: Deployment',
  '\t',
  '\0',
  '\\',
  '%',
  '- x\n',
  '{a: 1}',
  '[1, 2',
  '7',
  '-1',
  '1e400',
  'true',
  '0x1F',
  '<<: *a',
  '? ',
  'ENC[AES256_GCM,',
];

/** A valid manifest, mutated: lines dropped or duplicated, bytes replaced, tokens inserted. */
const mutated = fc
  .array(
    fc.oneof(
      fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('dup' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...TOKENS) }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ maxLength: 6 }) }),
      fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((ops) => {
    let lines = VALID.split('\n');
    for (const o of ops) {
      const i = lines.length === 0 ? 0 : o.at % lines.length;
      if (o.op === 'drop') lines.splice(i, 1);
      else if (o.op === 'dup') lines.splice(i, 0, lines[i] ?? '');
      else if (o.op === 'cut') lines = lines.slice(0, i);
      else {
        const line = lines[i] ?? '';
        const col = o.at % (line.length + 1);
        lines[i] = line.slice(0, col) + o.text + line.slice(col);
      }
    }
    return lines.join('\n');
  });

/** Plain checks (no expect per case: it costs more than the decode). */
function checkDecode(text: string): boolean {
  const r = decodeManifestFile('deployments/web.yaml', text);
  return [...r.errors, ...r.warnings].every(
    (e) => e.file === 'deployments/web.yaml' && e.line >= 1 && e.col >= 1 && e.code !== 'internal_error',
  );
}

const results: string[][] = [['target', 'generator', 'cases', 'crashes', 'time']];
const started = Date.now();

describe('chaos: fuzzing the parsers', () => {
  it.each([
    ['manifest decoder', 'mutated valid manifests', mutated, Math.ceil(RUNS * 0.125)],
    [
      'manifest decoder',
      'arbitrary text',
      fc.string({ unit: 'binary', maxLength: 400 }),
      Math.ceil(RUNS * 0.75),
    ],
  ] as const)(
    '%s never throws (%s)',
    (target, generator, arb, runs) => {
      const t = Date.now();
      fc.assert(fc.property(arb, checkDecode), { numRuns: runs });
      results.push([target, generator, String(runs), '0', `${((Date.now() - t) / 1000).toFixed(1)} s`]);
    },
    600_000,
  );

  const word = fc.oneof(
    fc.constantFrom(
      'SERVICE',
      'FROM',
      'RUN',
      'PUBLISH',
      'VOLUME',
      'ENV',
      'REQUIRES',
      'AFTER',
      'ARG',
      'CLEAR',
      'MEMORY',
      'CPUS',
      '${',
      '}',
      '=',
      ':',
      '30s',
      '4G',
      '50%',
      '#',
    ),
    fc.string({ maxLength: 8 }),
  );
  const orchfile = fc
    .array(
      fc.array(word, { maxLength: 5 }).map((w) => w.join(' ')),
      { maxLength: 30 },
    )
    .map((l) => l.join('\n'));

  it('Orchfile parser never throws (directive-shaped text)', () => {
    const t = Date.now();
    fc.assert(
      fc.property(orchfile, (text) => {
        const r = parseOrchfiles([{ path: 'Orchfile', text }]);
        return r.ok || r.errors.every((e) => e.line >= 1 && e.col >= 1);
      }),
      { numRuns: RUNS },
    );
    results.push([
      'Orchfile parser',
      'directive-shaped text',
      String(RUNS),
      '0',
      `${((Date.now() - t) / 1000).toFixed(1)} s`,
    ]);
    recordScenario({
      name: 'fuzz',
      checked: [
        'the manifest decoder never throws and every error is positioned (file, line ≥ 1, col ≥ 1), with no internal_error',
        'the Orchfile parser never throws and every error is positioned',
      ],
      table: results,
      cases: results.slice(1).reduce((n, r) => n + Number(r[2]), 0),
      ms: Date.now() - started,
    });
  }, 600_000);
});

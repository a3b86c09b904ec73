import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, journalStream, reconcileLogger, withSyslogPrefix } from './logger.ts';
import { Redactor } from './redact.ts';

function capture(): { lines: () => Record<string, unknown>[]; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('logger', () => {
  it('writes JSON with reconcile fields and censors secret fields', () => {
    const out = capture();
    const log = createLogger({ destination: out.stream });
    reconcileLogger(log, {
      controller: 'deployment',
      kind: 'Deployment',
      name: 'web',
      reconcileID: 'r1',
    }).info({ password: 'hunter22', spec: { env: { API_KEY: 'abc' } } }, 'Reconciling');
    const [line] = out.lines();
    expect(line).toMatchObject({
      level: 'info',
      msg: 'Reconciling',
      controller: 'deployment',
      kind: 'Deployment',
      name: 'web',
      reconcileID: 'r1',
      password: '[REDACTED]',
      spec: { env: { API_KEY: '[REDACTED]' } },
    });
  });

  it('masks known secret values in every line (redactText), fields and messages alike', () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString());
        cb();
      },
    });
    const r = new Redactor();
    r.add('hunter22');
    const log = createLogger({ destination: stream, redactText: (l) => r.redact(l) });
    log.warn({ error: 'deployments/x.yaml:3:5: got "hunter22"' }, 'manifest error hunter22');
    expect(chunks.join('')).not.toContain('hunter22');
    expect(chunks.join('')).toContain('got \\"[REDACTED]\\"');
  });

  it('Redactor hides registered values in free text, longest first', () => {
    const r = new Redactor();
    r.add('s3cr3t', 's3cr3t-long', 'ab');
    expect(r.redact('token=s3cr3t-long and s3cr3t, ab')).toBe('token=[REDACTED] and [REDACTED], ab');
  });
});

describe('journald priorities', () => {
  it('prefixes each line with its sd-daemon priority and keeps the JSON', () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString());
        cb();
      },
    });
    const log = createLogger({ destination: stream, syslogPrefix: true, level: 'debug' });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error({ err: 'boom' }, 'e');
    log.fatal('f');
    const lines = chunks.join('').trim().split('\n');
    expect(lines.map((l) => l.slice(0, 3))).toEqual(['<7>', '<6>', '<4>', '<3>', '<2>']);
    expect(JSON.parse(lines[3]!.slice(3))).toMatchObject({ level: 'error', msg: 'e', err: 'boom' });
  });

  it.each([
    ['{"level":"error","msg":"x"}\n', '<3>{"level":"error","msg":"x"}\n'],
    ['{"level":"info"}\n', '<6>{"level":"info"}\n'],
    ['{"msg":"no level"}\n', '{"msg":"no level"}\n'],
  ])('withSyslogPrefix(%j)', (line, want) => {
    expect(withSyslogPrefix(line)).toBe(want);
  });

  it('detects journald only when JOURNAL_STREAM names stdout', () => {
    expect(journalStream({})).toBe(false);
    expect(journalStream({ JOURNAL_STREAM: '1:2' })).toBe(false);
    expect(journalStream({ JOURNAL_STREAM: 'garbage' })).toBe(false);
  });
});

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, reconcileLogger } from './logger.ts';
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

  it('Redactor hides registered values in free text, longest first', () => {
    const r = new Redactor();
    r.add('s3cr3t', 's3cr3t-long', 'ab');
    expect(r.redact('token=s3cr3t-long and s3cr3t, ab')).toBe('token=[REDACTED] and [REDACTED], ab');
  });
});

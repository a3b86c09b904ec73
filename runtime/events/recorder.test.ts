import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/index.ts';
import { Redactor } from '../log/index.ts';
import { EventRecorder } from './recorder.ts';

const web = { kind: 'Deployment', metadata: { name: 'web' } };
const db = { kind: 'Deployment', metadata: { name: 'db' } };

describe('EventRecorder', () => {
  it('dedups by object + type + reason + message with count and first/last timestamps', () => {
    const clock = new FakeClock();
    const recorder = new EventRecorder({ clock });
    const rec = recorder.for('deployment-controller');
    rec.event(web, 'Warning', 'BackOff', 'restarting');
    clock.step(300_000);
    rec.event(web, 'Warning', 'BackOff', 'restarting');
    rec.event(web, 'Normal', 'BackOff', 'restarting');
    rec.event(db, 'Warning', 'BackOff', 'restarting');
    expect(recorder.list().map((r) => [r.key, r.type, r.count, r.firstTimestamp, r.lastTimestamp])).toEqual([
      ['Deployment/web', 'Warning', 2, '2025-01-01T00:00:00Z', '2025-01-01T00:05:00Z'],
      ['Deployment/web', 'Normal', 1, '2025-01-01T00:05:00Z', '2025-01-01T00:05:00Z'],
      ['Deployment/db', 'Warning', 1, '2025-01-01T00:05:00Z', '2025-01-01T00:05:00Z'],
    ]);
  });

  it('lists per object, evicts the least recently seen beyond capacity, redacts messages, streams', () => {
    const clock = new FakeClock();
    const redactor = new Redactor();
    redactor.add('hunter22');
    const recorder = new EventRecorder({ clock, capacity: 2, redact: (m) => redactor.redact(m) });
    const seen: string[] = [];
    recorder.watch({ key: 'Deployment/web' }).subscribe((r) => seen.push(`${r.reason} x${r.count}`));
    const rec = recorder.for('c');
    rec.event(web, 'Normal', 'Pulled', 'pulled with password hunter22');
    clock.step(1000);
    rec.event(db, 'Normal', 'Started', 'started');
    rec.event(web, 'Normal', 'Pulled', 'pulled with password hunter22');
    rec.event(db, 'Normal', 'Killing', 'stopping');
    expect(recorder.list().map((r) => `${r.key} ${r.reason} x${r.count}`)).toEqual([
      'Deployment/web Pulled x2',
      'Deployment/db Killing x1',
    ]);
    const [pulled] = recorder.list({ key: 'Deployment/web' });
    expect(pulled).toMatchObject({
      message: 'pulled with password [REDACTED]',
      firstTimestamp: '2025-01-01T00:00:00Z',
      lastTimestamp: '2025-01-01T00:00:01Z',
      source: 'c',
    });
    expect(seen).toEqual(['Pulled x1', 'Pulled x2']);
  });
});

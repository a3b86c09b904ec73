import { describe, expect, it } from 'vitest';
import { toContainerEvent } from './dockerode.ts';

describe('toContainerEvent', () => {
  const actor = (attrs: Record<string, string>) => ({
    ID: 'abc',
    Attributes: { name: 'web', image: 'i:1', app: 'web', ...attrs },
  });

  it.each([
    [
      {
        Type: 'container',
        Action: 'die',
        Actor: actor({ exitCode: '137' }),
        time: 1,
        timeNano: 1_500_000_000,
      },
      { action: 'die', id: 'abc', name: 'web', labels: { app: 'web' }, exitCode: 137, timeMs: 1500 },
    ],
    [
      { Type: 'container', Action: 'health_status: unhealthy', Actor: actor({}), time: 2 },
      {
        action: 'health_status',
        id: 'abc',
        name: 'web',
        labels: { app: 'web' },
        healthStatus: 'unhealthy',
        timeMs: 2000,
      },
    ],
    [
      { Type: 'container', Action: 'kill', Actor: actor({ signal: '9' }), time: 3 },
      { action: 'kill', id: 'abc', name: 'web', labels: { app: 'web' }, timeMs: 3000 },
    ],
  ])('%j', (msg, want) => {
    expect(toContainerEvent(msg)).toEqual(want);
  });

  it.each([[{ Type: 'network', Action: 'connect', Actor: { ID: 'n' } }], [{ Type: 'container' }]])(
    'ignores %j',
    (msg) => {
      expect(toContainerEvent(msg)).toBeUndefined();
    },
  );
});

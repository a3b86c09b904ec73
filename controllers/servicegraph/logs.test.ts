import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { FakeEngine } from '../../runtime/docker/fake.ts';
import { hostLogTarget, type LogTarget } from '../../runtime/graph/index.ts';
import { serviceGraphLogs } from './logs.ts';

let dir: string;
let engine: FakeEngine;
let targets: LogTarget[];
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orun-sg-logs-'));
  engine = new FakeEngine();
  engine.addImage('db:1');
  const id = await engine.createContainer({ name: 'orun-sg-g-db', image: 'db:1' });
  await engine.startContainer(id);
  engine.writeLog(id, 'stdout', 'db ready');
  writeFileSync(join(dir, 'app.log'), 'app 1\napp 2\n');
  writeFileSync(join(dir, 'app.err'), 'app warning\n');
  targets = [{ service: 'db', container: 'orun-sg-g-db' }, hostLogTarget('app', dir)];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const logs = () => serviceGraphLogs({ targets: (n) => (n === 'g' ? targets : undefined), engine });
const all = async (o: Parameters<ReturnType<typeof logs>>[1]) =>
  firstValueFrom((await logs()('g', o, new AbortController().signal)).pipe(toArray()));

describe('serviceGraphLogs', () => {
  it('prints every service in start order, each line prefixed with its service', async () => {
    expect(await all({})).toEqual(['[db] db ready', '[app] app 1', '[app] app 2', '[app] app warning']);
  });

  it('prints one service without a prefix, and the last N lines per file', async () => {
    expect(await all({ container: 'app', tailLines: 1 })).toEqual(['app 2', 'app warning']);
    expect(await all({ container: 'db' })).toEqual(['db ready']);
  });

  it('rejects an unknown service naming the services there are', async () => {
    const err: unknown = await logs()('g', { container: 'web' }, new AbortController().signal).catch(
      (e: unknown) => e,
    );
    expect(isOrunError(err, 'UnknownService')).toBe(true);
    expect((err as Error).message).toBe('servicegraph "g" has no service "web"; its services: db, app');
  });

  it('follows host files and containers until the signal aborts', async () => {
    const ac = new AbortController();
    const lines: string[] = [];
    const done = (await logs()('g', { follow: true, tailLines: 0 }, ac.signal)).forEach((l) => {
      lines.push(l);
      if (l === '[app] app 3') engine.writeLog('orun-sg-g-db', 'stdout', 'db checkpoint');
      if (l === '[db] db checkpoint') ac.abort();
    });
    appendFileSync(join(dir, 'app.log'), 'app 3\n');
    await done;
    expect(lines).toEqual(['[app] app 3', '[db] db checkpoint']);
  });

  it('a missing container ends only its own service', async () => {
    targets = [{ service: 'gone', container: 'nope' }, ...targets];
    const out = await firstValueFrom(
      (await logs()('g', {}, new AbortController().signal)).pipe(take(1), toArray()),
    );
    expect(out).toEqual(['[db] db ready']);
  });
});

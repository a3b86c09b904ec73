import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runDown } from './down.ts';
import type { RunIO } from './up.ts';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function io(): RunIO & { err: () => string } {
  let err = '';
  return {
    stdout: () => undefined,
    stderr: (t) => (err += t),
    env: {},
    cwd: dir,
    readFile: (p) => readFileSync(p, 'utf8'),
    writeFile: () => undefined,
    onStopSignal: () => () => undefined,
    engine: () => {
      throw new Error('down -v must not reach the engine');
    },
    err: () => err,
  };
}

describe('orch down -v (what a Compose user types)', () => {
  it('is refused before anything stops, naming the docker volume rm that deletes the data', async () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-down-v-'));
    writeFileSync(
      join(dir, 'Orchfile'),
      'SERVICE db\nFROM orun-test/postgres:1\nVOLUME data:/var/lib/postgresql/data\n\nSERVICE app\nRUN sleep 60\n',
    );
    const out = io();
    expect(await runDown(['down', '-v', '-p', 'shop'], out)).toBe(2);
    expect(out.err()).toBe(
      "error: orch down never removes volumes (-v is Compose's); nothing was stopped. Run orch down without -v, " +
        'then delete the data yourself: docker volume rm shop_data\n',
    );
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpMigrateReq } from './gate.ts';

describe('tcpMigrateReq', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orun-gate-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['0\n', 'off'],
    ['1\n', 'on'],
  ])('reads %j as %s', async (content, want) => {
    const path = join(dir, `migrate-${want}`);
    await writeFile(path, content);
    expect(await tcpMigrateReq(path)).toBe(want);
  });

  it('is unsupported when the kernel has no such sysctl (Linux < 5.14)', async () => {
    expect(await tcpMigrateReq(join(dir, 'absent'))).toBe('unsupported');
  });
});

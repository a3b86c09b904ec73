import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { controlSocketPath, sendControl, serveControl } from './control.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the control socket', () => {
  it("serves in a state dir that does not exist yet (a project's first orch up)", async () => {
    const root = mkdtempSync(join(tmpdir(), 'orch-control-'));
    dirs.push(root);
    const path = controlSocketPath(join(root, '.orch', 'state'), 'web');
    const asked: string[] = [];
    const stop = new AbortController();
    const serving = serveControl(
      path,
      (req) => {
        asked.push(req.restart);
        return req.restart === 'web'
          ? Promise.resolve()
          : Promise.reject(new Error(`no service '${req.restart}'`));
      },
      stop.signal,
    );
    await expect(sendControl(path, { restart: 'web' })).resolves.toBeUndefined();
    await expect(sendControl(path, { restart: 'nope' })).rejects.toMatchObject({
      code: 'ControlFailed',
    });
    expect(asked).toEqual(['web', 'nope']);
    stop.abort();
    await serving;
    await expect(sendControl(path, { restart: 'web' })).rejects.toMatchObject({
      code: 'SupervisorUnreachable',
    });
  });
});

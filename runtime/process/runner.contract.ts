/**
 * The ProcessRunner contract: one suite, run against the fake (`fake.test.ts`) and the real
 * runner (`node.test.ts`), so the fake cannot drift from node:child_process.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { realClock } from '../clock/index.ts';
import { ProcessErrorCode, type ProcessHandle, type ProcessRunner } from './runner.ts';
import { stopProcessGroup } from './stop.ts';

export interface ProcessHarness {
  runner: ProcessRunner;
  /** A command that keeps running until signalled. */
  sleeper: string;
  /** A command that ignores SIGTERM, prints `ready` once it does, and keeps running. */
  stubborn: string;
  /** A command that exits with `code` by itself. */
  exiter(code: number): string;
  /** A command that prints `lines` on stdout and exits 0. */
  printer(lines: readonly string[]): string;
}

export function describeProcessContract(name: string, make: () => ProcessHarness): void {
  describe(`ProcessRunner contract: ${name}`, () => {
    const h = make();
    const started: ProcessHandle[] = [];
    let dir: string | undefined;
    afterAll(async () => {
      for (const p of started) h.runner.signalGroup(p.pid, 'SIGKILL');
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    });
    const spawn = async (command: string, extra: { stdout?: (l: string) => void } = {}) => {
      const p = await h.runner.spawn({
        name: 'svc',
        command,
        stdout: extra.stdout ?? 'ignore',
        stderr: 'ignore',
      });
      started.push(p);
      return p;
    };

    it.each([0, 3])('reports exit code %i', async (code) => {
      const p = await spawn(h.exiter(code));
      expect(await p.exited).toEqual({ code, signal: null });
      expect(h.runner.alive(p.pid)).toBe(false);
    });

    it('a running process group is alive until SIGTERM ends it', async () => {
      const p = await spawn(h.sleeper);
      expect(p.pid).toBeGreaterThan(1);
      expect(h.runner.alive(p.pid)).toBe(true);
      expect(h.runner.signalGroup(p.pid, 'SIGTERM')).toBe(true);
      expect((await p.exited).signal).toBe('SIGTERM');
      // Other group members may take a moment longer than the leader to die.
      for (let i = 0; i < 100 && h.runner.alive(p.pid); i++) await new Promise((r) => setTimeout(r, 10));
      expect(h.runner.alive(p.pid)).toBe(false);
    });

    it('stopProcessGroup: SIGTERM within the grace period', async () => {
      const p = await spawn(h.sleeper);
      const outcome = await stopProcessGroup(h.runner, realClock, p.pid, {
        timeoutMs: 5_000,
        exited: p.exited,
      });
      expect(outcome).toBe('term');
      expect(h.runner.alive(p.pid)).toBe(false);
    });

    it('stopProcessGroup: SIGKILL after the grace period when SIGTERM is ignored', async () => {
      let ready!: () => void;
      const isReady = new Promise<void>((r) => (ready = r));
      const p = await spawn(h.stubborn, { stdout: (l) => l === 'ready' && ready() });
      await isReady;
      const outcome = await stopProcessGroup(h.runner, realClock, p.pid, {
        timeoutMs: 300,
        exited: p.exited,
      });
      expect(outcome).toBe('kill');
      expect((await p.exited).signal).toBe('SIGKILL');
    });

    it('stopProcessGroup: a STOP command with MAINPID', async () => {
      const p = await spawn(h.sleeper);
      const outcome = await stopProcessGroup(h.runner, realClock, p.pid, {
        stopCommand: 'kill $MAINPID',
        timeoutMs: 5_000,
        exited: p.exited,
      });
      expect(outcome).toBe('term');
    });

    it('stopProcessGroup on a process that is gone', async () => {
      const p = await spawn(h.exiter(0));
      await p.exited;
      expect(await stopProcessGroup(h.runner, realClock, p.pid)).toBe('gone');
    });

    it('delivers stdout line by line to a callback', async () => {
      const lines: string[] = [];
      const p = await spawn(h.printer(['one', 'two words']), { stdout: (l) => lines.push(l) });
      await p.exited;
      await new Promise((r) => setTimeout(r, 20));
      expect(lines).toEqual(['one', 'two words']);
    });

    it.each([
      [0, h.exiter(0)],
      [4, h.exiter(4)],
    ])('exec returns exit code %i', async (code, command) => {
      const r = await h.runner.exec(command, { timeoutMs: 5_000 });
      expect(r.code).toBe(code);
      expect(r.timedOut).toBe(false);
    });

    it('exec kills the command when aborted', async () => {
      const ac = new AbortController();
      ac.abort();
      const r = await h.runner.exec(h.sleeper, { signal: ac.signal });
      expect(r.timedOut).toBe(true);
      expect(r.code).not.toBe(0);
    });

    it('spawn rejects ProcessSpawnFailed for a missing working directory', async () => {
      dir ??= await mkdtemp(join(tmpdir(), 'orun-proc-'));
      let caught: unknown;
      try {
        await h.runner.spawn({ name: 'svc', command: h.sleeper, cwd: join(dir, 'missing') });
      } catch (err) {
        caught = err;
      }
      expect(isOrunError(caught, ProcessErrorCode.SpawnFailed)).toBe(true);
    });

    it('file output is appended', async () => {
      dir ??= await mkdtemp(join(tmpdir(), 'orun-proc-'));
      const file = join(dir, 'logs', 'out.log');
      const p = await h.runner.spawn({ name: 'svc', command: h.printer(['hello']), stdout: { file } });
      await p.exited;
      expect(await readFile(file, 'utf8')).toBe('hello\n');
    });
  });
}

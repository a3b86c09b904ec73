/**
 * The SshSession contract: one suite, run against the fake (fake.test.ts) and a real sshd
 * (test/bootstrap/ssh.test.ts), so the fake cannot drift from ssh2 + OpenSSH.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { SshErrorCode } from './client.ts';
import type { SshSession } from './client.ts';
import { shellCommand } from './quote.ts';

/** The commands the suite runs; a fake's handler must answer these as /bin/sh would. */
export const CONTRACT_COMMANDS = {
  /** stdout `out`, stderr `err`, exit 3. */
  mixed: 'printf %s out; printf %s err >&2; exit 3',
  /** Echoes stdin. */
  cat: 'cat',
  /** Never ends within the test's timeouts. */
  hang: 'sleep 30',
  /** Prints its argument once. */
  echo: (arg: string) => shellCommand(['printf', '%s', arg]),
} as const;

export interface SshContractHarness {
  session: SshSession;
  /** A directory the session may upload into. */
  dir: string;
  /** Reads back a remote file (content and permission bits), out of band. */
  readRemote(path: string): Promise<{ data: Buffer; mode: number }>;
  /** A local file to upload, with its content. */
  localFile: { path: string; data: Buffer };
  cleanup(): Promise<void>;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

export function describeSshContract(name: string, setup: () => Promise<SshContractHarness>): void {
  describe(`SshSession contract: ${name}`, () => {
    let h: SshContractHarness;
    beforeEach(async () => {
      h = await setup();
    });
    afterEach(async () => {
      await h.session.close();
      await h.cleanup();
    });

    it('exec resolves with the exit code, stdout and stderr (non-zero does not reject)', async () => {
      expect(await h.session.exec(CONTRACT_COMMANDS.mixed)).toEqual({
        code: 3,
        stdout: 'out',
        stderr: 'err',
      });
    });

    it('exec passes stdin and a quoted argument through unchanged', async () => {
      const text = 'it\'s $HOME `id` "q"\n';
      expect((await h.session.exec(CONTRACT_COMMANDS.cat, { stdin: text })).stdout).toBe(text);
      expect((await h.session.exec(CONTRACT_COMMANDS.echo(text))).stdout).toBe(text);
    });

    it('exec rejects with SshTimeout after timeoutMs, and with SshAborted on abort', async () => {
      const t0 = Date.now();
      const timedOut = await rejection(h.session.exec(CONTRACT_COMMANDS.hang, { timeoutMs: 200 }));
      expect(isOrunError(timedOut, SshErrorCode.Timeout)).toBe(true);
      expect(Date.now() - t0).toBeLessThan(5_000);
      const ac = new AbortController();
      const p = rejection(h.session.exec(CONTRACT_COMMANDS.hang, { signal: ac.signal }));
      setTimeout(() => ac.abort(), 50);
      expect(isOrunError(await p, SshErrorCode.Aborted)).toBe(true);
      // The session is still usable afterwards.
      expect((await h.session.exec(CONTRACT_COMMANDS.echo('ok'))).stdout).toBe('ok');
    });

    it('upload writes bytes and local files with the exact mode', async () => {
      await h.session.upload(Buffer.from('hello\n'), `${h.dir}/a.txt`, 0o640);
      expect(await h.readRemote(`${h.dir}/a.txt`)).toEqual({ data: Buffer.from('hello\n'), mode: 0o640 });
      await h.session.upload(h.localFile.path, `${h.dir}/b.bin`, 0o755);
      expect(await h.readRemote(`${h.dir}/b.bin`)).toEqual({ data: h.localFile.data, mode: 0o755 });
      // Overwrite in place, with a narrower mode.
      await h.session.upload(Buffer.from('x'), `${h.dir}/b.bin`, 0o600);
      expect(await h.readRemote(`${h.dir}/b.bin`)).toEqual({ data: Buffer.from('x'), mode: 0o600 });
    });

    it('after close, exec and upload reject with SshClosed', async () => {
      await h.session.close();
      await h.session.close();
      expect(isOrunError(await rejection(h.session.exec('true')), SshErrorCode.Closed)).toBe(true);
      const up = rejection(h.session.upload(Buffer.from('x'), `${h.dir}/c`, 0o644));
      expect(isOrunError(await up, SshErrorCode.Closed)).toBe(true);
    });
  });
}

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OrunError, isOrunError } from '../../apis/errors.ts';
import { SshErrorCode } from './client.ts';
import { CONTRACT_COMMANDS, describeSshContract } from './client.contract.ts';
import { FakeSshConnector } from './fake.ts';
import type { FakeExecHandler } from './fake.ts';
import { shellSplit } from './quote.ts';

/** Answers the contract commands as /bin/sh would. */
const shLike: FakeExecHandler = (command, stdin) => {
  if (command === CONTRACT_COMMANDS.mixed) return { code: 3, stdout: 'out', stderr: 'err' };
  if (command === CONTRACT_COMMANDS.cat)
    return { code: 0, stdout: stdin?.toString('utf8') ?? '', stderr: '' };
  if (command === CONTRACT_COMMANDS.hang) return new Promise(() => {});
  const argv = shellSplit(command);
  if (argv[0] === 'printf' && argv[1] === '%s') return { code: 0, stdout: argv[2] ?? '', stderr: '' };
  return { code: 127, stdout: '', stderr: `sh: ${argv[0]}: not found` };
};

describeSshContract('fake', async () => {
  const connector = new FakeSshConnector({ handler: shLike });
  const session = await connector.connect({ host: 'fake' });
  const local = mkdtempSync(join(tmpdir(), 'orun-fake-ssh-'));
  const data = randomBytes(4096);
  writeFileSync(join(local, 'blob'), data);
  return {
    session,
    dir: '/remote',
    localFile: { path: join(local, 'blob'), data },
    readRemote: (path) => {
      const f = session.files.get(path);
      return f ? Promise.resolve({ data: f.data, mode: f.mode }) : Promise.reject(new Error(`no ${path}`));
    },
    cleanup: () => Promise.resolve(rmSync(local, { recursive: true, force: true })),
  };
});

describe('FakeSshConnector', () => {
  it('records calls in order and can refuse to connect', async () => {
    const connector = new FakeSshConnector({ handler: shLike });
    const s = await connector.connect({ host: 'h', port: 2222, user: 'u' });
    expect(s.target).toBe('u@h:2222');
    await s.exec('cat', { stdin: 'in' });
    await s.upload(Buffer.from('abc'), '/x', 0o600);
    expect(s.calls).toEqual([
      { op: 'exec', command: 'cat', stdin: 'in' },
      { op: 'upload', remotePath: '/x', mode: 0o600, bytes: 3 },
    ]);
    const refusing = new FakeSshConnector({
      handler: shLike,
      connectError: new OrunError(SshErrorCode.HostKeyChanged, 'changed'),
    });
    const err = await refusing.connect({ host: 'h' }).catch((e: unknown) => e);
    expect(isOrunError(err, SshErrorCode.HostKeyChanged)).toBe(true);
  });
});

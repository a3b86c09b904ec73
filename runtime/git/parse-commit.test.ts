import { describe, expect, it } from 'vitest';
import { parseCommit } from './cli-client.ts';

const SHA = 'a'.repeat(40);

describe('parseCommit (a raw commit object, as git log --format=%an <%ae>, %cI, %B reads it)', () => {
  it('reads the author, the committer time and the message, past a multi-line signature', () => {
    const raw = [
      `tree ${'b'.repeat(40)}`,
      `parent ${'c'.repeat(40)}`,
      'author A U Thor <a@example.com> 1700000000 +0200',
      'committer C O Mitter <c@example.com> 1700000100 -0500',
      'gpgsig -----BEGIN SSH SIGNATURE-----',
      ' U1NIU0lHAAAAAQ',
      ' ',
      ' -----END SSH SIGNATURE-----',
      '',
      'subject',
      '',
      'body line',
      '',
      '',
    ].join('\n');
    expect(parseCommit(SHA, Buffer.from(raw))).toEqual({
      sha: SHA,
      author: 'A U Thor <a@example.com>',
      time: new Date(1700000100 * 1000),
      message: 'subject\n\nbody line',
    });
  });

  it('leaves a message in another encoding to git log (undefined)', () => {
    const raw = `tree ${'b'.repeat(40)}\nauthor A <a@b> 1 +0000\ncommitter A <a@b> 1 +0000\nencoding ISO-8859-1\n\nx\n`;
    expect(parseCommit(SHA, Buffer.from(raw))).toBeUndefined();
    expect(parseCommit(SHA, Buffer.from(raw.replace('ISO-8859-1', 'UTF-8')))?.message).toBe('x');
  });
});

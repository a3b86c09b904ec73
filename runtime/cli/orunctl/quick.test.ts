import { describe, expect, it } from 'vitest';
import { parseQuickGet } from './quick.ts';

describe('parseQuickGet', () => {
  it('takes a plain get, with -o/-l in every spelling and --socket before it', () => {
    expect(parseQuickGet(['get', 'deploy'])).toEqual({ kind: 'deploy' });
    expect(parseQuickGet(['get', 'deploy', 'web', '-o', 'wide'])).toEqual({
      kind: 'deploy',
      name: 'web',
      output: 'wide',
    });
    expect(parseQuickGet(['--socket', '/s', 'get', '-ojson', 'svc'])).toEqual({
      kind: 'svc',
      socket: '/s',
      output: 'json',
    });
    expect(parseQuickGet(['--socket=/s', 'get', 'no', '--selector=a=b', '--output', 'name'])).toEqual({
      kind: 'no',
      socket: '/s',
      selector: 'a=b',
      output: 'name',
    });
    expect(parseQuickGet(['get', 'deploy', '-l', 'app=web'])).toEqual({
      kind: 'deploy',
      selector: 'app=web',
    });
  });

  it('leaves everything else to the full program', () => {
    for (const argv of [
      [],
      ['--help'],
      ['describe', 'deploy'],
      ['get'],
      ['get', '--help'],
      ['get', 'deploy', '-w'],
      ['get', 'deploy', '--watch'],
      ['get', 'deploy', 'a', 'b'],
      ['get', 'deploy', '-o'],
      ['get', 'deploy', '-o', '-w'],
      ['get', 'deploy', '-o', 'json', '-o', 'wide'],
      ['get', 'deploy', '--'],
      ['get', 'deploy', '--socket', '/s'],
      ['--socket'],
      ['--socket', '/s', 'describe', 'deploy'],
      ['--version'],
    ])
      expect(parseQuickGet(argv), argv.join(' ')).toBeUndefined();
  });
});

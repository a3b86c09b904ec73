import { describe, expect, it } from 'vitest';
import { toRequest } from './bootstrap.ts';

const flags = {
  host: 'h',
  user: 'root',
  port: 22,
  identity: '~/.ssh/id_ed25519',
  knownHosts: 'kh',
  repo: 'https://x/r.git',
  branch: 'main',
  pollInterval: '5s',
  dataDir: '/opt/orun/',
  label: [['a', 'b']] as [string, string][],
  out: '.',
};

describe('orun bootstrap flags', () => {
  it('toRequest resolves relative paths, keeps ~/, takes the agent from SSH_AUTH_SOCK', () => {
    const req = toRequest('n', { ...flags, identity: 'keys/id' }, { SSH_AUTH_SOCK: '/run/agent' });
    expect(req.identity).toBe(`${process.cwd()}/keys/id`);
    expect(req.knownHosts).toBe(`${process.cwd()}/kh`);
    expect(toRequest('n', flags, {}).identity).toBe('~/.ssh/id_ed25519');
    expect(req.agent).toBe('/run/agent');
    expect(toRequest('n', flags, {}).agent).toBeUndefined();
    expect(req.labels).toEqual({ a: 'b' });
  });
});

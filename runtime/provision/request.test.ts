import { describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { nodeArch, parseFacts } from './remote.ts';
import { BootstrapErrorCode, checkRequest, isSshRepo, parseLabel, sameNode } from './request.ts';
import type { BootstrapRequest } from './request.ts';

const base: BootstrapRequest = {
  name: 'n',
  host: 'h',
  user: 'root',
  port: 22,
  identity: '~/.ssh/id_ed25519',
  knownHosts: '/kh',
  repo: 'https://x/r.git',
  branch: 'main',
  pollInterval: '5s',
  dataDir: '/opt/orun/',
  labels: { a: 'b' },
  out: '/',
  dryRun: false,
  force: false,
  installDocker: false,
};

describe('bootstrap request', () => {
  it.each([
    ['ssh://git@host/r.git', true],
    ['git+ssh://host/r.git', true],
    ['git@github.com:acme/r.git', true],
    ['host:r.git', true],
    ['https://github.com/acme/r.git', false],
    ['file:///srv/r.git', false],
    ['/srv/r.git', false],
    ['./r', false],
  ])('isSshRepo(%j) = %s', (url, want) => {
    expect(isSshRepo(url)).toBe(want);
  });

  it.each([
    ['k=v', ['k', 'v']],
    ['k=', ['k', '']],
    ['k=a=b', ['k', 'a=b']],
  ])('parseLabel(%j)', (text, want) => {
    expect(parseLabel(text)).toEqual(want);
  });

  it.each(['=v', 'novalue'])('parseLabel(%j) throws InvalidRequest', (text) => {
    expect(() => parseLabel(text)).toThrow(
      expect.objectContaining({ code: BootstrapErrorCode.InvalidRequest }),
    );
  });

  it.each([
    ['a newline in --repo', { repo: 'https://x\nEVIL=1' }, '--repo: control characters'],
    ['a NUL in --data-dir', { dataDir: '/opt/\0' }, '--data-dir: control characters'],
    ['a host that looks like an option', { host: '-oProxyCommand=x' }, 'must not start with "-"'],
    ['port 0', { port: 0 }, '--port: expected 1-65535'],
  ])('checkRequest refuses %s', (_, over, message) => {
    const req = { ...base, ...over };
    let err: unknown;
    try {
      checkRequest(req);
    } catch (e) {
      err = e;
    }
    expect(isOrunError(err, BootstrapErrorCode.InvalidRequest)).toBe(true);
    expect((err as Error).message).toContain(message);
  });
});

describe('bootstrap remote helpers', () => {
  it.each([
    ['x86_64', 'x64'],
    ['aarch64', 'arm64'],
    ['armv7l', undefined],
  ])('nodeArch(%s) = %s', (uname, want) => {
    expect(nodeArch(uname)).toBe(want);
  });

  it('parseFacts reads key=value lines and defaults the rest', () => {
    const f = parseFacts(
      'os=debian\narch=x86_64\nuid=0\nsystemd=running\norun_version=0.1.0+abc\nos_name=A=B\n',
    );
    expect(f).toMatchObject({
      os: 'debian',
      arch: 'x86_64',
      uid: 0,
      systemdRunning: true,
      orunVersion: '0.1.0+abc',
      osName: 'A=B',
    });
    expect(f).toMatchObject({ dockerSocket: false, sudo: false, git: '', caddy: '' });
  });

  it('sameNode compares what a Node says, not its layout or comments', () => {
    const a =
      'apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata: {name: n}\nspec: {host: h, gitRepo: r}\n';
    const b =
      '# mine\napiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: n\nspec:\n  gitRepo: r\n  host: h\n  user: root\n';
    expect(sameNode(a, b, 'nodes/n.yaml')).toBe(true);
    expect(sameNode(a, b.replace('host: h', 'host: x'), 'nodes/n.yaml')).toBe(false);
  });
});

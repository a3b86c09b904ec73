import { describe, expect, it } from 'vitest';
import { normalizeHostPath, refusedHostPath } from './hostpath.ts';
import type { Node } from './node.ts';

const node = (spec: Partial<Node['spec']> = {}): Pick<Node, 'metadata' | 'spec'> => ({
  metadata: { name: 'n1' },
  spec: { dataDir: '/opt/orun/', ...spec } as Node['spec'],
});

describe('host-path policy', () => {
  // Issue 9 bug 8: these were accepted.
  it.each([
    ['/', 'is the root directory'],
    ['/etc', 'is /etc'],
    ['/etc/nginx', 'is under /etc'],
    ['/proc', 'is /proc'],
    ['/sys/fs/cgroup', 'is under /sys'],
    ['/var/run/docker.sock', 'is /var/run/docker.sock'],
    ['/run/docker.sock', 'is /run/docker.sock'],
    ['/var', 'is a parent of /var/lib/containerd'],
    ['/opt/orun/keys', 'is under /opt/orun'],
    ['/srv/../etc', 'is /etc'],
    ['/data/orun', 'is /data/orun'],
  ])('refuses %s by default', (path, why) => {
    expect(refusedHostPath(path, node(), { dataDir: '/data/orun' })).toBe(
      `${why}, refused by the default host-path policy; list it in Node "n1" spec.allowedHostPaths to allow it`,
    );
  });

  it.each(['/srv/app', '/var/lib/app', '/home/app/data', '/opt/app'])('accepts %s by default', (path) => {
    expect(refusedHostPath(path, node())).toBeUndefined();
  });

  it('an allow list replaces the default', () => {
    const n = node({ allowedHostPaths: ['/srv', '/var/run/docker.sock'] });
    expect(refusedHostPath('/var/run/docker.sock', n)).toBeUndefined();
    expect(refusedHostPath('/srv/x/y', n)).toBeUndefined();
    expect(refusedHostPath('/srvx', n)).toBe(
      'is not under any of Node "n1" allowedHostPaths (/srv, /var/run/docker.sock)',
    );
  });

  it.each([
    ['/a/./b//c/', '/a/b/c'],
    ['/a/../../b', '/b'],
    ['/', '/'],
  ])('normalizes %s to %s', (raw, want) => {
    expect(normalizeHostPath(raw)).toBe(want);
  });
});

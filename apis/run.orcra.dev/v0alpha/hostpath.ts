/**
 * The host-path policy: which `hostPath`s a Deployment may mount on a node. A bind mount of `/etc`,
 * `/proc` or the Docker socket hands the container the node itself, so by default those are
 * refused; a Node's `spec.allowedHostPaths` replaces the default with an explicit allow list.
 * `orun validate` and the agent apply this same function, so they agree.
 */
import type { Deployment } from './deployment.ts';
import type { Locator } from './decode.ts';
import { ManifestError, ManifestErrorCode, formatPath } from './manifesterror.ts';
import type { Node } from './node.ts';

/**
 * Refused by default: each path itself, everything under it, and every directory above it (a
 * mount of `/var` reaches `/var/run/docker.sock`). The node's data dir is added to these.
 */
export const DEFAULT_REFUSED_HOST_PATHS: readonly string[] = [
  '/',
  '/boot',
  '/dev',
  '/etc',
  '/proc',
  '/root',
  '/sys',
  '/run/containerd',
  '/run/docker.sock',
  '/var/lib/containerd',
  '/var/lib/docker',
  '/var/run/containerd',
  '/var/run/docker.sock',
];

/** `/srv/./data/../x/` → `/srv/x`: `.`, `..` and repeated or trailing slashes resolved (no symlinks). */
export function normalizeHostPath(path: string): string {
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return `/${out.join('/')}`;
}

/** True when `path` is `base` or inside it (both normalized). */
function within(path: string, base: string): boolean {
  return base === '/' || path === base || path.startsWith(`${base}/`);
}

export interface HostPathPolicyOptions {
  /** The data dir the agent really runs with, refused beside the Node's own `dataDir`. Default: none. */
  dataDir?: string;
}

/**
 * Why `hostPath` may not be mounted on `node`, or undefined when it may.
 *
 * @example refusedHostPath('/etc/app', node) // 'is refused by the default host-path policy (...)'
 */
export function refusedHostPath(
  hostPath: string,
  node: Pick<Node, 'metadata' | 'spec'>,
  options: HostPathPolicyOptions = {},
): string | undefined {
  const path = normalizeHostPath(hostPath);
  const allowed = node.spec.allowedHostPaths;
  if (allowed !== undefined) {
    if (allowed.some((a) => within(path, normalizeHostPath(a)))) return undefined;
    return `is not under any of Node "${node.metadata.name}" allowedHostPaths (${allowed.join(', ') || 'none'})`;
  }
  const refused = [...DEFAULT_REFUSED_HOST_PATHS];
  for (const d of [node.spec.dataDir, options.dataDir])
    if (d !== undefined && d.startsWith('/')) refused.push(d);
  for (const r of refused.map(normalizeHostPath)) {
    const why =
      path === '/'
        ? 'is the root directory'
        : r === '/'
          ? undefined
          : path === r
            ? `is ${r}`
            : within(path, r)
              ? `is under ${r}`
              : within(r, path)
                ? `is a parent of ${r}`
                : undefined;
    if (why !== undefined)
      return `${why}, refused by the default host-path policy; list it in ${node.metadata.name === '' ? "the Node's" : `Node "${node.metadata.name}"`} spec.allowedHostPaths to allow it`;
  }
  return undefined;
}

/**
 * One error per volume of `dep` that the policy refuses on `node`, positioned by `locate`
 * (else at the object's source file, 1:1).
 */
export function hostPathErrors(
  dep: Pick<Deployment, 'metadata' | 'spec'>,
  node: Pick<Node, 'metadata' | 'spec'>,
  locate?: Locator,
  options: HostPathPolicyOptions = {},
): ManifestError[] {
  const out: ManifestError[] = [];
  for (const [i, v] of dep.spec.volumes.entries()) {
    const why = refusedHostPath(v.hostPath, node, options);
    if (why === undefined) continue;
    const path = ['spec', 'volumes', i, 'hostPath'];
    const source = dep.metadata.annotations?.['run.orcra.dev/source'] ?? '';
    const at = locate?.(dep as never, path) ?? { file: source.replace(/@[^@]*$/, ''), line: 1, col: 1 };
    out.push(
      new ManifestError({
        ...at,
        path: formatPath(path),
        message: `hostPath "${v.hostPath}" ${why}`,
        code: ManifestErrorCode.HostPathRefused,
      }),
    );
  }
  return out;
}

/**
 * Manifests and docker helpers for agent e2e tests that need more than `deploymentYaml` offers:
 * a Deployment with any spec (volumes, liveness tuning, build), a Node with a codeDir, start
 * times of a container from `docker inspect`, and removal of a test's built images.
 */
import { execFileSync } from 'node:child_process';
import { stringify } from 'yaml';
import { ApiClient } from '../../runtime/api/client.ts';
import { resourceByKind } from '../../runtime/api/resources.ts';
import type { EventRecord } from '../../runtime/api/types.ts';

/** A Deployment manifest with `spec` as given (plain data, stringified as YAML). */
export function deploymentManifest(name: string, spec: Record<string, unknown>): string {
  return stringify({ apiVersion: 'run.orcra.dev/v0alpha', kind: 'Deployment', metadata: { name }, spec });
}

/** A Node manifest like `nodeYaml`'s, plus extra spec fields (e.g. `codeDir`). */
export function nodeManifest(name: string, repo: string, spec: Record<string, unknown> = {}): string {
  return stringify({
    apiVersion: 'run.orcra.dev/v0alpha',
    kind: 'Node',
    metadata: { name },
    spec: { host: '127.0.0.1', gitRepo: `file://${repo}`, pollInterval: '1s', ...spec },
  });
}

/** Events the agent recorded about Deployment `name`, oldest first (none when it is not up yet). */
export async function deploymentEvents(socketPath: string, name: string): Promise<EventRecord[]> {
  try {
    return await new ApiClient({ socketPath }).events({ resource: resourceByKind('Deployment'), name });
  } catch {
    return [];
  }
}

/** The sum of `count` over events with this reason (events are aggregated). */
export function eventCount(events: readonly EventRecord[], reason: string): number {
  return events.filter((e) => e.reason === reason).reduce((n, e) => n + e.count, 0);
}

export interface ContainerState {
  id: string;
  status: string;
  running: boolean;
  exitCode: number;
  startedAt: string;
  finishedAt: string;
}

/** `docker inspect` of one container by name or id; undefined when it does not exist. */
export function inspectContainer(nameOrId: string): ContainerState | undefined {
  let out: string;
  try {
    out = execFileSync('docker', ['inspect', '--type', 'container', nameOrId], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return undefined;
  }
  const [c] = JSON.parse(out) as {
    Id: string;
    State: { Status: string; Running: boolean; ExitCode: number; StartedAt: string; FinishedAt: string };
  }[];
  if (c === undefined) return undefined;
  return {
    id: c.Id,
    status: c.State.Status,
    running: c.State.Running,
    exitCode: c.State.ExitCode,
    startedAt: c.State.StartedAt,
    finishedAt: c.State.FinishedAt,
  };
}

/** Image references `orun-build/<deployment>:*` (what the agent builds for that Deployment). */
export function builtImages(deployment: string): string[] {
  return execFileSync(
    'docker',
    ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', `orun-build/${deployment}`],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter(Boolean);
}

/** Removes the images the agent built for this Deployment (its containers must be gone first). */
export function removeBuiltImages(deployment: string): void {
  const refs = builtImages(deployment);
  if (refs.length > 0) execFileSync('docker', ['rmi', '-f', ...refs], { stdio: 'ignore' });
}

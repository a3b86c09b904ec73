/** Labels on every container orch creates; `down` and `status` find containers by them. */
export const LABELS = {
  managedBy: 'run.orcra.dev/managed-by',
  project: 'orch.project',
  service: 'orch.service',
  /** Hash of the container spec orch created, to tell a stale container (RECREATE never keeps it). */
  configHash: 'orch.config-hash',
} as const;

export const MANAGED_BY = 'orch';

export function projectSelector(project: string): Record<string, string> {
  return { [LABELS.managedBy]: MANAGED_BY, [LABELS.project]: project };
}

/** `<project>-<service>`, as Compose names containers (without its replica suffix). */
export function defaultContainerName(project: string, service: string): string {
  return `${project}-${service}`;
}

/** `<project>_default`, as Compose names a project's network. */
export function defaultNetworkName(project: string): string {
  return `${project}_default`;
}

/**
 * Validating a repository offline: decode every file (SOPS files too: see sops.ts), run the
 * cross-object checks, and check that files objects refer to (ServiceGraph Orchfiles, secrets.yaml
 * keys) exist. What `orun validate` runs.
 */
import { access, readFile } from 'node:fs/promises';
import { formatOrchfileError, parseOrchfiles, type OrchfileSource } from '../../apis/orchfile/index.ts';
import { join } from 'node:path';
import {
  ManifestError,
  ManifestErrorCode,
  checkObjects,
  compareManifestErrors,
  hostPathErrors,
  KINDS,
  type Node,
  type ServiceGraph,
  selectsNode,
} from '../../apis/run.orcra.dev/v0alpha/index.ts';
import { type ManifestRepo, assembleRepo, loadManifestFiles } from './load.ts';
import { type SecretsCheckOptions, checkSecrets } from './sops.ts';

export interface ValidationResult {
  repo: ManifestRepo;
  /** Decode, cross-object and file-reference errors, sorted by file and position. */
  errors: ManifestError[];
  warnings: ManifestError[];
}

/**
 * Loads and checks the repository at `dir`. Valid when `errors` is empty.
 *
 * @example
 * const { errors } = await validateManifestRepo('.');
 * if (errors.length > 0) process.exitCode = 1;
 */
export async function validateManifestRepo(
  dir: string,
  options: SecretsCheckOptions = {},
): Promise<ValidationResult> {
  const secrets = await checkSecrets(dir, await loadManifestFiles(dir, options), options);
  const repo = assembleRepo(secrets.loaded);
  const checked = checkObjects(repo.objects, { locate: repo.locate });
  const errors = [...repo.errors, ...secrets.errors, ...checked.errors, ...hostPathPolicyErrors(repo)];
  for (const obj of repo.objects) {
    if (obj.kind !== 'ServiceGraph') continue;
    let missing = false;
    for (const [i, file] of obj.spec.orchfiles.entries()) {
      if (await exists(join(dir, file))) continue;
      missing = true;
      const at = repo.locate(obj, ['spec', 'orchfiles', i]);
      errors.push(
        new ManifestError({
          file: at?.file ?? '',
          line: at?.line ?? 1,
          col: at?.col ?? 1,
          path: `spec.orchfiles[${i}]`,
          message: `file "${file}" not found in the repository`,
          code: ManifestErrorCode.MissingFile,
        }),
      );
    }
    if (!missing) errors.push(...(await orchfileErrors(dir, obj, repo)));
  }
  return {
    repo,
    errors: errors.sort(compareManifestErrors),
    warnings: [...repo.warnings, ...checked.warnings].sort(compareManifestErrors),
  };
}

/**
 * The host-path policy of every Node a Deployment lands on (the default policy when the
 * repository has no Node), as the agent on each of those nodes applies it.
 */
function hostPathPolicyErrors(repo: ManifestRepo): ManifestError[] {
  const nodes = repo.objects.filter((o): o is Node => o.kind === 'Node');
  const anyNode: Pick<Node, 'metadata' | 'spec'> = {
    metadata: { name: '' },
    spec: { dataDir: '/opt/orun/' } as Node['spec'],
  };
  const out = new Map<string, ManifestError>();
  for (const dep of repo.objects) {
    if (dep.kind !== 'Deployment') continue;
    const targets = nodes.length === 0 ? [anyNode] : nodes.filter((n) => selectsNode(dep, n));
    for (const node of targets)
      for (const e of hostPathErrors(dep, node, repo.locate)) out.set(`${e.format()}`, e);
  }
  return [...out.values()];
}

/**
 * A ServiceGraph's Orchfiles parsed as the agent parses them (base then overlays, `spec.args` as
 * `--arg`; the agent's environment is not read), each error at its own file:line:col, and
 * `spec.services` names checked against the graph.
 */
async function orchfileErrors(dir: string, sg: ServiceGraph, repo: ManifestRepo): Promise<ManifestError[]> {
  const sources: OrchfileSource[] = [];
  for (const path of sg.spec.orchfiles) sources.push({ path, text: await readFile(join(dir, path), 'utf8') });
  const parsed = parseOrchfiles(sources, { args: { ...sg.spec.args }, env: {} });
  if (!parsed.ok) {
    return parsed.errors.map((e) => {
      const where = `${e.file}:${e.line}:${e.col}: `;
      return new ManifestError({
        file: e.file,
        line: e.line,
        col: e.col,
        path: '',
        message: formatOrchfileError(e).slice(where.length),
        code: ManifestErrorCode.OrchfileInvalid,
      });
    });
  }
  const names = new Set(parsed.graph.services.map((s) => s.name));
  return (sg.spec.services ?? []).flatMap((s, i) => {
    if (names.has(s)) return [];
    const at = repo.locate(sg, ['spec', 'services', i]);
    return [
      new ManifestError({
        file: at?.file ?? '',
        line: at?.line ?? 1,
        col: at?.col ?? 1,
        path: `spec.services[${i}]`,
        message: `no service named '${s}' in the Orchfiles`,
        code: ManifestErrorCode.MissingReference,
      }),
    ];
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The last line `orun validate` prints: `orun validate: 2 errors in 1 file`, or when valid
 * `validated 7 objects in 5 files: 1 Node, 3 Deployments, 2 Services, 1 ServiceGraph`.
 */
export function validationSummary({ repo, errors }: ValidationResult): string {
  if (errors.length > 0) {
    const files = new Set(errors.map((e) => e.file)).size;
    return `orun validate: ${plural(errors.length, 'error')} in ${plural(files, 'file')}`;
  }
  const counts = KINDS.map((k) => [k, repo.objects.filter((o) => o.kind === k).length] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => plural(n, k));
  const head = `validated ${plural(repo.objects.length, 'object')} in ${plural(repo.files.length, 'file')}`;
  return counts.length === 0 ? head : `${head}: ${counts.join(', ')}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

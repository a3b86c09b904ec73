import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { type AnyObject, KINDS } from '../../apis/run.orcra.dev/v0alpha/index.ts';
import { validateLimits } from '../../runtime/config/settings.ts';
import { validateManifestRepo } from '../../runtime/manifests/validate.ts';
import { parseAgeKeyFile } from '../../runtime/sops/index.ts';

/** `orun validate [REPO_DIR]`: decode and check a manifest repository offline, as CI would. */
export function validateCommand(): Command {
  return new Command('validate')
    .description(
      'check a manifest repository offline: every error with file:line:col and field path; exit 1 on any',
    )
    .argument('[REPO_DIR]', 'the manifest repository (nodes/ deployments/ services/ servicegraphs/)', '.')
    .option(
      '--age-key <file>',
      'age key file: decrypt SOPS files and inline ENC[...] values and verify their MACs; without it, their structure and every non-secret field are checked',
    )
    .option(
      '--max-manifest-bytes <size>',
      "the agent's per-file limit; default $ORUN_MAX_MANIFEST_BYTES, else 1MiB",
    )
    .option(
      '--max-repo-bytes <size>',
      "the agent's per-revision limit; default $ORUN_MAX_REPO_BYTES, else 64MiB",
    )
    .action(
      async (dir: string, opts: { ageKey?: string; maxManifestBytes?: string; maxRepoBytes?: string }) => {
        const limits = validateLimits(opts);
        const identities =
          opts.ageKey === undefined
            ? undefined
            : parseAgeKeyFile(await readFile(opts.ageKey, 'utf8'), opts.ageKey);
        const { repo, errors, warnings } = await validateManifestRepo(dir, {
          limits,
          ...(identities === undefined ? {} : { identities }),
        });
        for (const e of [...errors, ...warnings]) process.stderr.write(`${e.format()}\n`);
        if (errors.length > 0) {
          const files = new Set(errors.map((e) => e.file)).size;
          process.stderr.write(
            `orun validate: ${plural(errors.length, 'error')} in ${plural(files, 'file')}\n`,
          );
          process.exitCode = 1;
          return;
        }
        process.stdout.write(`${summary(repo.objects, repo.files.length)}\n`);
      },
    );
}

/** `validated 7 objects in 5 files: 1 Node, 3 Deployments, 2 Services, 1 ServiceGraph`. */
export function summary(objects: readonly AnyObject[], files: number): string {
  const counts = KINDS.map((k) => [k, objects.filter((o) => o.kind === k).length] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => plural(n, k));
  const head = `validated ${plural(objects.length, 'object')} in ${plural(files, 'file')}`;
  return counts.length === 0 ? head : `${head}: ${counts.join(', ')}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

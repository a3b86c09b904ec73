import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { validateLimits } from '../../runtime/config/settings.ts';
import { validateManifestRepo, validationSummary } from '../../runtime/manifests/validate.ts';
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
            : await parseAgeKeyFile(await readFile(opts.ageKey, 'utf8'), opts.ageKey);
        const result = await validateManifestRepo(dir, {
          limits,
          ...(identities === undefined ? {} : { identities }),
        });
        for (const e of [...result.errors, ...result.warnings]) process.stderr.write(`${e.format()}\n`);
        const out = result.errors.length > 0 ? process.stderr : process.stdout;
        out.write(`${validationSummary(result)}\n`);
        if (result.errors.length > 0) process.exitCode = 1;
      },
    );
}

import { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  KINDS,
  jsonSchemaFor,
  manifestJsonSchema,
  schemaFileName,
} from '../../apis/run.orcra.dev/v0alpha/index.ts';

/** `orun schema`: write the JSON Schema of each kind, for editors. */
export function schemaCommand(): Command {
  return new Command('schema')
    .description('write the JSON Schema of each manifest kind (and one for any kind) for editor validation')
    .option('--out <dir>', 'directory to write the *.schema.json files to', 'config/schemas')
    .action(async (opts: { out: string }) => {
      await mkdir(opts.out, { recursive: true });
      const files: [string, unknown][] = [
        ...KINDS.map((k) => [schemaFileName(k), jsonSchemaFor(k)] as [string, unknown]),
        [schemaFileName('manifest'), manifestJsonSchema()],
      ];
      for (const [name, schema] of files) {
        await writeFile(join(opts.out, name), `${JSON.stringify(schema, null, 2)}\n`);
        process.stdout.write(`wrote ${join(opts.out, name)}\n`);
      }
    });
}

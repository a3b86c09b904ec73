/** `orunctl get KIND [NAME] [-l selector] [-o wide|yaml|json|name] [-w]`. */
import type { ResourceType } from '../../../api/resources.ts';
import type { WireObject } from '../../../api/types.ts';
import { UsageError, type Context } from '../context.ts';
import { resolveKinds } from '../kinds.ts';
import {
  OUTPUT_FORMATS,
  asDocument,
  printJson,
  printName,
  yamlPrinter,
  type OutputFormat,
} from '../printers/output.ts';
import { TablePrinter } from '../printers/table.ts';

export interface GetOptions {
  selector?: string;
  output?: string;
  watch?: boolean;
}

export function outputFormat(output: string | undefined): OutputFormat {
  if (output === undefined || output === '') return 'table';
  if ((OUTPUT_FORMATS as readonly string[]).includes(output)) return output as OutputFormat;
  throw new UsageError(
    `unable to match a printer suitable for the output format "${output}", allowed formats are: ${OUTPUT_FORMATS.join(',')}`,
  );
}

export async function get(
  ctx: Context,
  kindArg: string,
  name: string | undefined,
  options: GetOptions,
): Promise<void> {
  const format = outputFormat(options.output);
  const kinds = resolveKinds(kindArg);
  if (kinds.length > 1 && (name !== undefined || options.watch === true)) {
    throw new UsageError(`"all" takes no NAME and no --watch; name one kind`);
  }
  const objectsByKind = await fetchObjects(ctx, kinds, name, options.selector);
  const toYaml = format === 'yaml' ? await yamlPrinter() : undefined;
  const printers = printObjects(ctx, objectsByKind, format, name !== undefined, kinds.length > 1, toYaml);
  const [only] = objectsByKind;
  if (options.watch === true && only !== undefined)
    await watch(ctx, only.resource, only.items, name, options, format, printers, toYaml);
}

/** The objects of each kind: the list (with `selector`), or the one named. */
export function fetchObjects(
  ctx: Context,
  kinds: readonly ResourceType[],
  name: string | undefined,
  selector: string | undefined,
): Promise<{ resource: ResourceType; items: WireObject[] }[]> {
  return Promise.all(
    kinds.map(async (resource) => ({
      resource,
      items: (name === undefined
        ? (await ctx.client.list(resource, { labelSelector: selector })).items
        : [await ctx.client.get(resource, name)]) as WireObject[],
    })),
  );
}

/** Prints the listing as a table per kind, or as one json/yaml document, or names. */
export function printObjects(
  ctx: Context,
  groups: { resource: ResourceType; items: WireObject[] }[],
  format: OutputFormat,
  single: boolean,
  withKind: boolean,
  toYaml: ((doc: unknown) => string) | undefined,
): Map<string, TablePrinter> {
  const printers = new Map<string, TablePrinter>();
  const all = groups.flatMap((g) => g.items);
  if (format === 'json' || toYaml !== undefined) {
    const doc = asDocument(all, single);
    ctx.stdout.write(toYaml === undefined ? printJson(doc) : toYaml(doc));
    return printers;
  }
  if (format === 'name') {
    for (const o of all) ctx.stdout.write(printName(o));
    return printers;
  }
  const tables: string[] = [];
  for (const { resource, items } of groups) {
    const printer = new TablePrinter(resource.kind, {
      now: ctx.now(),
      wide: format === 'wide',
      withKind,
      palette: ctx.palette,
    });
    printers.set(resource.kind, printer);
    if (items.length > 0) tables.push(printer.table(items));
  }
  if (tables.length === 0) ctx.stderr.write('No resources found.\n');
  else ctx.stdout.write(tables.join('\n'));
  return printers;
}

/** Prints one row (or document) per change after the listing, until Ctrl-C. */
async function watch(
  ctx: Context,
  resource: ResourceType,
  listed: readonly WireObject[],
  name: string | undefined,
  options: GetOptions,
  format: OutputFormat,
  printers: Map<string, TablePrinter>,
  toYaml: ((doc: unknown) => string) | undefined,
): Promise<void> {
  // The watch starts by replaying the current state; skip what the listing already showed.
  const shown = new Map(listed.map((o) => [o.metadata.name, JSON.stringify(o)]));
  const stream = ctx.client.watch(resource, { labelSelector: options.selector, name, signal: ctx.signal });
  const printer =
    printers.get(resource.kind) ??
    new TablePrinter(resource.kind, { now: ctx.now(), wide: format === 'wide', palette: ctx.palette });
  let headerShown = listed.length > 0;
  for await (const event of stream) {
    const obj = event.object as WireObject;
    const text = JSON.stringify(obj);
    if (event.type !== 'DELETED' && shown.get(obj.metadata.name) === text) continue;
    if (event.type === 'DELETED') shown.delete(obj.metadata.name);
    else shown.set(obj.metadata.name, text);
    if (format === 'json') ctx.stdout.write(printJson(obj));
    else if (toYaml !== undefined) ctx.stdout.write('---\n' + toYaml(obj));
    else if (format === 'name') ctx.stdout.write(printName(obj));
    else if (headerShown) ctx.stdout.write(printer.row(obj, ctx.now()));
    else {
      // Nothing was listed: the first change prints the header, as kubectl does.
      ctx.stdout.write(printer.table([obj]));
      headerShown = true;
    }
  }
}

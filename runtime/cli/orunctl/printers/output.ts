/** `-o json|yaml|name`: objects as the API sent them (secrets are already `{secret: true}`). */
import type { WireObject } from '../../../api/types.ts';

export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml' | 'name';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['wide', 'json', 'yaml', 'name'];

/** One object, or several as kubectl's `{apiVersion: v1, kind: List, items}`. */
export function asDocument(objects: readonly WireObject[], single: boolean): unknown {
  if (single && objects.length === 1) return objects[0];
  return { apiVersion: 'v1', kind: 'List', items: objects };
}

/** kubectl indents JSON by 4 spaces. */
export function printJson(doc: unknown): string {
  return JSON.stringify(doc, null, 4) + '\n';
}

/**
 * kubectl's YAML: 2 spaces, sequences not indented under their key. The yaml package is loaded
 * here, on first use: it is two thirds of the bundle, and only `-o yaml` needs it.
 */
export async function yamlPrinter(): Promise<(doc: unknown) => string> {
  const { stringify } = await import('yaml');
  return (doc) => stringify(doc, { indentSeq: false, lineWidth: 0, aliasDuplicateObjects: false });
}

/** `deployment/web`. */
export function printName(obj: WireObject): string {
  return `${obj.kind.toLowerCase()}/${obj.metadata.name}\n`;
}

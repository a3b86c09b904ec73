import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { jsonSchemaFor, manifestJsonSchema, schemaFileName } from './jsonschema.ts';
import { KINDS } from './scheme.ts';

// Golden files: config/schemas/ is what `orun schema` writes; regenerate with `node dist/orun.js schema`.
const golden = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../config/schemas/${name}`, import.meta.url), 'utf8'));

describe('JSON Schemas', () => {
  it.each(KINDS)('config/schemas for %s is up to date', (kind) => {
    expect(golden(schemaFileName(kind))).toEqual(jsonSchemaFor(kind));
  });
  it('config/schemas/manifest.schema.json is up to date', () => {
    expect(golden(schemaFileName('manifest'))).toEqual(manifestJsonSchema());
  });
  it('marks defaulted fields optional and documents defaults', () => {
    const spec = (
      jsonSchemaFor('Node').properties as Record<string, { required: string[]; properties: object }>
    ).spec;
    expect(spec?.required).toEqual(['host', 'gitRepo']);
    expect(spec?.properties).toMatchObject({ pollInterval: { default: '5s' }, user: { default: 'root' } });
  });
});

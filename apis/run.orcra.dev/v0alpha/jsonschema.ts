/**
 * JSON Schema for each kind's manifest, so editors (yaml-language-server) validate and complete
 * manifests. Generated from the zod schemas in their input form: defaulted fields are optional.
 */
import { z } from 'zod';
import type { KindName } from './meta.ts';
import { API_VERSION } from './meta.ts';
import { KINDS, manifestSchemas } from './scheme.ts';

export type JsonSchema = Record<string, unknown>;

/** The file name `orun schema` writes a kind's schema to, e.g. `deployment.schema.json`. */
export function schemaFileName(kind: KindName | 'manifest'): string {
  return `${kind.toLowerCase()}.schema.json`;
}

/**
 * The JSON Schema (draft 2020-12) of one kind's manifest.
 *
 * @example jsonSchemaFor('Deployment').properties // { apiVersion, kind, metadata, spec }
 */
export function jsonSchemaFor(kind: KindName): JsonSchema {
  const schema = z.toJSONSchema(manifestSchemas[kind], {
    io: 'input',
    target: 'draft-2020-12',
  }) as JsonSchema;
  return { ...schema, title: `${kind} (${API_VERSION})` };
}

/** One schema accepting a manifest of any kind, chosen by its `kind`. */
export function manifestJsonSchema(): JsonSchema {
  const oneOf = KINDS.map((k) => {
    const { $schema: _drop, ...rest } = jsonSchemaFor(k);
    return rest;
  });
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: `Any ${API_VERSION} manifest`,
    oneOf,
  };
}

/**
 * Field schemas shared by every kind: names, labels, ports, durations, placement, metadata and
 * conditions. Each carries a message in the one style decoding reports
 * (`expected integer 1-65535, got "http"`), so an error reads the same whatever field it is on.
 */
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration.ts';
import { MAX_PORT, MIN_PORT } from '../../ports.ts';

/** A short, quoted rendering of a bad value for error messages. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint'
    ? String(value)
    : typeof value;
}

/**
 * A zod error function that says what was expected and what was found, or `required field` when
 * the field is missing. Use it as `{ error: expected('...') }` on a schema or a check.
 */
export function expected(what: string): (iss: { input?: unknown; code?: string }) => string | undefined {
  return (iss) => {
    // Unknown keys are reported per key by the decoder, with a suggestion; leave them to it.
    if (iss.code === 'unrecognized_keys') return undefined;
    return iss.input === undefined ? 'required field' : `expected ${what}, got ${showValue(iss.input)}`;
  };
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A DNS-1123 label: lower-case alphanumerics and `-`, at most 63 characters. Names containers and routes. */
export const Dns1123Label = z
  .string({ error: expected('a DNS-1123 name') })
  .max(63, { error: expected('a DNS-1123 name of at most 63 characters'), abort: true })
  .regex(DNS1123_LABEL, {
    error: expected("a DNS-1123 name (lower-case letters, digits and '-', starting and ending alphanumeric)"),
  });

/** A DNS-1123 subdomain: dot-separated labels, at most 253 characters (host names). */
export const Dns1123Subdomain = z
  .string({ error: expected('a DNS-1123 subdomain') })
  .max(253, { error: expected('a DNS-1123 subdomain of at most 253 characters'), abort: true })
  .regex(DNS1123_SUBDOMAIN, {
    error: expected("a DNS-1123 subdomain (lower-case letters, digits, '-' and '.')"),
  });

/** A TCP/UDP port number. */
export const Port = z
  .int({ error: expected('integer 1-65535') })
  .min(MIN_PORT, { error: expected('integer 1-65535') })
  .max(MAX_PORT, { error: expected('integer 1-65535') });

/** A Go-style duration greater than zero: `5s`, `1m30s`, `250ms`. */
export const Duration = z
  .string({ error: expected('a duration like "5s" or "1m30s"') })
  .regex(DURATION_PATTERN, { error: expected('a duration like "5s" or "1m30s"'), abort: true })
  .refine((s) => (parseDuration(s) ?? 0) > 0, { error: expected('a duration greater than zero') });

/** Any string; used for values such as env vars where only the type matters. */
export const Str = z.string({ error: expected('string') });

/** A non-empty string. */
export const NonEmpty = Str.min(1, { error: expected('a non-empty string'), abort: true });

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_KEY = z.string().refine(
  (k) => {
    const slash = k.lastIndexOf('/');
    const name = slash < 0 ? k : k.slice(slash + 1);
    const prefix = slash < 0 ? undefined : k.slice(0, slash);
    if (prefix !== undefined && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) return false;
    return name.length <= 63 && LABEL_NAME.test(name);
  },
  { error: expected('a label key like "tier" or "example.com/tier"') },
);
const LABEL_VALUE = z
  .string({ error: expected('string') })
  .max(63, { error: expected('a label value of at most 63 characters'), abort: true })
  .regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/, {
    error: expected("a label value (letters, digits, '-', '_' and '.')"),
  });

/** Kubernetes-style labels: keys `[prefix/]name`, values up to 63 characters. */
export const Labels = z.record(LABEL_KEY, LABEL_VALUE, { error: expected('a mapping of labels') });

/** Annotations: any string keys and string values. */
export const Annotations = z.record(z.string(), Str, { error: expected('a mapping of strings') });

/** What the manifest's `metadata` may hold. `generation` and friends belong to the store. */
export const ObjectMetaSchema = z.strictObject(
  {
    name: Dns1123Label.describe('Name of the object, unique per kind (DNS-1123 label).'),
    labels: Labels.optional().describe('Labels, matched by nodeSelector on Nodes.'),
    annotations: Annotations.optional().describe('Free-form annotations.'),
  },
  { error: expected('a mapping') },
);

/** `metadata` of a Node: a host name may hold dots, so it is a DNS-1123 subdomain. */
export const NodeMetaSchema = ObjectMetaSchema.extend({
  name: Dns1123Subdomain.describe('Name of the node (DNS-1123 subdomain, usually its host name).'),
});

/** Where an object runs. Without either field it applies to every node on the branch. */
export const Placement = {
  nodeName: Dns1123Subdomain.optional().describe('Run only on the Node with this name.'),
  nodeSelector: z
    .strictObject(
      {
        matchLabels: Labels.describe('Run only on Nodes whose labels include all of these.'),
      },
      { error: expected('a mapping with matchLabels') },
    )
    .optional()
    .describe('Run only on Nodes whose labels match. With nodeName too, both must match.'),
};

/** metav1.Condition, as held in status (never read from Git). */
export const ConditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  observedGeneration: z.int().optional(),
  lastTransitionTime: z.string(),
  reason: z.string(),
  message: z.string(),
});

/** The status fields every kind shares. */
export const ObjectStatusFields = {
  observedGeneration: z.int().optional(),
  conditions: z.array(ConditionSchema).optional(),
};

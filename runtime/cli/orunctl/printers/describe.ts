/**
 * `orunctl describe`: kubectl's layout. Metadata first, then spec and status as indented
 * `Key:  value` lines (field names as words: `containerPort` → `Container Port`), a Conditions
 * table and an Events table. A secret prints as `<set to the secret value>`, never its value.
 */
import type { Condition } from '../../../../apis/run.orcra.dev/v0alpha/meta.ts';
import { SECRET_DISPLAY, isSecretValue, type EventRecord, type WireObject } from '../../../api/types.ts';
import { NO_COLOR, statusColor, type Palette } from './color.ts';
import { age, describeTime } from './duration.ts';
import { describeEvents } from './events.ts';
import { DESCRIBE, tabwrite } from '../../tabwriter.ts';

/** Maps whose keys are data, printed as typed rather than turned into words. */
const DATA_MAPS = new Set(['env', 'args', 'labels', 'annotations', 'matchLabels', 'nodeSelector']);

const ACRONYMS = new Set([
  'id',
  'url',
  'ip',
  'tls',
  'http',
  'https',
  'api',
  'ssh',
  'dns',
  'cpu',
  'uid',
  'acme',
  'ssl',
]);

/** `containerPort` → `Container Port`, `imageID` → `Image ID`, `url` → `URL`. */
export function fieldLabel(field: string): string {
  const words = field
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_-]+/);
  return words
    .map((w) => (ACRONYMS.has(w.toLowerCase()) ? w.toUpperCase() : w.charAt(0).toUpperCase() + w.slice(1)))
    .join(' ');
}

function scalar(v: unknown): string {
  if (isSecretValue(v)) return SECRET_DISPLAY;
  if (v === null || v === undefined) return '<none>';
  if (typeof v === 'string') return v === '' ? '<none>' : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isSecretValue(v);
}

/** kubectl's unstructured describer: nested maps indent by 2, lists of maps print each item's fields. */
function fields(content: Record<string, unknown>, level: number, dataKeys: boolean): string[] {
  const pad = '  '.repeat(level);
  const lines: string[] = [];
  for (const [key, value] of Object.entries(content)) {
    const label = dataKeys ? key : fieldLabel(key);
    if (isRecord(value)) {
      if (Object.keys(value).length === 0) {
        lines.push(`${pad}${label}:\t<none>`);
        continue;
      }
      lines.push(`${pad}${label}:`);
      lines.push(...fields(value, level + 1, DATA_MAPS.has(key)));
    } else if (Array.isArray(value)) {
      if (value.length === 0) {
        lines.push(`${pad}${label}:\t<none>`);
        continue;
      }
      lines.push(`${pad}${label}:`);
      for (const item of value) {
        if (isRecord(item)) lines.push(...fields(item, level + 1, false));
        else lines.push(`${pad}  ${scalar(item)}`);
      }
    } else {
      lines.push(`${pad}${label}:\t${scalar(value)}`);
    }
  }
  return lines;
}

function keyValues(map: Record<string, string> | undefined, sep: string): string[] {
  const entries = Object.entries(map ?? {});
  return entries.length === 0 ? ['<none>'] : entries.map(([k, v]) => `${k}${sep}${v}`);
}

function conditionsTable(conditions: readonly Condition[], p: Palette): string[] {
  if (conditions.length === 0) return ['Conditions:\t<none>'];
  return [
    'Conditions:',
    '  Type\tStatus\tReason\tMessage\tLastTransitionTime',
    '  ----\t------\t------\t-------\t------------------',
    ...conditions.map(
      (c) =>
        `  ${c.type}\t${statusColor(p, c.status)}\t${c.reason || '<none>'}\t${c.message || '<none>'}\t${describeTime(c.lastTransitionTime)}`,
    ),
  ];
}

/** A ServiceGraph's services as a table, the columns of `orch status` plus exit code, since and last error. */
function servicesTable(services: readonly Record<string, unknown>[], now: Date, p: Palette): string[] {
  const cell = (v: unknown): string => (v === undefined || v === '' ? '<none>' : scalar(v));
  return [
    'Services:',
    '  Service\tKind\tState\tReady\tRestarts\tExit Code\tSince\tLast Error',
    '  -------\t----\t-----\t-----\t--------\t---------\t-----\t----------',
    ...services.map((s) =>
      [
        `  ${cell(s.name)}`,
        cell(s.mode),
        statusColor(p, cell(s.state)),
        s.ready === undefined ? '<none>' : statusColor(p, s.ready === true ? 'True' : 'False'),
        cell(s.restarts ?? 0),
        cell(s.exitCode),
        typeof s.since === 'string' ? age(s.since, now) : '<none>',
        cell(s.lastError),
      ].join('\t'),
    ),
  ];
}

export interface DescribeOptions {
  now: Date;
  palette?: Palette;
}

/** The describe text of `obj` with its `events` (oldest first). */
export function describeObject(
  obj: WireObject,
  events: readonly EventRecord[],
  options: DescribeOptions,
): string {
  const p = options.palette ?? NO_COLOR;
  const m = obj.metadata;
  const [firstLabel, ...moreLabels] = keyValues(m.labels, '=');
  const [firstAnn, ...moreAnns] = keyValues(m.annotations, ': ');
  const lines: string[] = [
    `Name:\t${m.name}`,
    `Kind:\t${obj.kind}`,
    `API Version:\t${obj.apiVersion}`,
    `Labels:\t${firstLabel ?? '<none>'}`,
    ...moreLabels.map((l) => `\t${l}`),
    `Annotations:\t${firstAnn ?? '<none>'}`,
    ...moreAnns.map((a) => `\t${a}`),
    `Created:\t${m.creationTimestamp === undefined ? '<unknown>' : `${describeTime(m.creationTimestamp)} (${age(m.creationTimestamp, options.now)} ago)`}`,
    `Generation:\t${m.generation ?? '<none>'}`,
  ];
  // Each section is aligned on its own, so a long key in one does not push out the others.
  const sections = [lines];
  if (isRecord(obj.spec) && Object.keys(obj.spec).length > 0)
    sections.push(['Spec:', ...fields(obj.spec, 1, false)]);
  const { conditions = [], ...status } = obj.status ?? {};
  // A ServiceGraph's per-service rows are a table of their own (as Conditions are).
  const services =
    obj.kind === 'ServiceGraph' && Array.isArray(status.services) ? status.services : undefined;
  if (services !== undefined) delete status.services;
  if (Object.keys(status).length > 0) sections.push(['Status:', ...fields(status, 1, false)]);
  if (services !== undefined) sections.push(servicesTable(services.filter(isRecord), options.now, p));
  sections.push(conditionsTable(conditions, p));
  return (
    sections.map((s) => tabwrite(s.join('\n'), DESCRIBE)).join('') +
    tabwrite(describeEvents(events, options.now, p), DESCRIBE)
  );
}

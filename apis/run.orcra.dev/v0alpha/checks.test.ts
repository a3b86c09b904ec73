import { describe, expect, it } from 'vitest';
import { checkObjects } from './checks.ts';
import { decodeManifestFile } from './decode.ts';
import type { AnyObject } from './scheme.ts';
import { type Locator } from './decode.ts';

/** Decodes `files` (path → YAML) as one repository and runs the checks. */
function check(files: Record<string, string>) {
  const objects: AnyObject[] = [];
  const locators: Locator[] = [];
  for (const [path, text] of Object.entries(files)) {
    const res = decodeManifestFile(path, text);
    expect(res.errors.map((e) => e.format())).toEqual([]);
    objects.push(...res.objects);
    locators.push(res.locate);
  }
  const locate: Locator = (obj, p) => locators.map((l) => l(obj, p)).find((x) => x !== undefined);
  const res = checkObjects(objects, { locate });
  return { errors: res.errors.map((e) => e.format()), warnings: res.warnings.map((e) => e.format()) };
}

const H = 'apiVersion: run.orcra.dev/v0alpha\n';
const node = (name: string, labels = '{}') =>
  `${H}kind: Node\nmetadata:\n  name: ${name}\n  labels: ${labels}\nspec:\n  host: ${name}\n  gitRepo: /r.git\n`;
const dep = (name: string, port: number, placement = '') =>
  `${H}kind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  image: nginx:1\n  ports:\n    - containerPort: 80\n      port: ${port}\n${placement}`;
const svc = (name: string, deployment: string, domain = `${name}.example.com`) =>
  `${H}kind: Service\nmetadata:\n  name: ${name}\nspec:\n  deployment: ${deployment}\n  ingress:\n    domain:\n      default: ${domain}\n`;

describe('checkObjects', () => {
  it.each<{ name: string; files: Record<string, string>; errors: string[]; warnings: string[] }>([
    {
      name: 'a consistent repository',
      files: {
        'nodes/n.yaml': node('n'),
        'deployments/web.yaml': dep('web', 8080),
        'services/web.yaml': svc('web', 'web'),
      },
      errors: [],
      warnings: [],
    },
    {
      name: 'a Service naming a missing Deployment',
      files: { 'deployments/web.yaml': dep('web', 8080), 'services/web.yaml': svc('web', 'wbe') },
      errors: ['services/web.yaml:6:3: spec.deployment: Deployment "wbe" not found, did you mean "web"?'],
      warnings: [],
    },
    {
      name: 'duplicate names within a kind',
      files: { 'deployments/a.yaml': dep('web', 8080), 'deployments/b.yaml': dep('web', 8081) },
      errors: [
        'deployments/b.yaml:4:3: metadata.name: duplicate Deployment "web", first defined at deployments/a.yaml:4:3',
      ],
      warnings: [],
    },
    {
      name: 'two Deployments on one host port, no Nodes known',
      files: { 'deployments/a.yaml': dep('a', 8080), 'deployments/b.yaml': dep('b', 8080) },
      errors: [
        'deployments/b.yaml:9:7: spec.ports[0].port: host port 8080/tcp is also claimed by Deployment "a" (deployments/a.yaml:9:7)',
      ],
      warnings: [],
    },
    {
      name: 'two Deployments on one host port on a shared node',
      files: {
        'nodes/n1.yaml': node('n1', '{ tier: web }'),
        'deployments/a.yaml': dep('a', 8080, '  nodeSelector:\n    matchLabels: { tier: web }\n'),
        'deployments/b.yaml': dep('b', 8080),
      },
      errors: [
        'deployments/b.yaml:9:7: spec.ports[0].port: host port 8080/tcp is also claimed by Deployment "a" (deployments/a.yaml:9:7) on node "n1"',
      ],
      warnings: [],
    },
    {
      name: 'one host port on different nodes',
      files: {
        'nodes/n1.yaml': node('n1'),
        'nodes/n2.yaml': node('n2'),
        'deployments/a.yaml': dep('a', 8080, '  nodeName: n1\n'),
        'deployments/b.yaml': dep('b', 8080, '  nodeName: n2\n'),
      },
      errors: [],
      warnings: [],
    },
    {
      name: 'one host port on disjoint selectors, no Nodes known',
      files: {
        'deployments/a.yaml': dep('a', 8080, '  nodeSelector: { matchLabels: { tier: web } }\n'),
        'deployments/b.yaml': dep('b', 8080, '  nodeSelector: { matchLabels: { tier: db } }\n'),
      },
      errors: [],
      warnings: [],
    },
    {
      name: 'one host port twice in one Deployment',
      files: {
        'deployments/a.yaml': `${dep('a', 8080)}    - containerPort: 81\n      port: 8080\n`,
      },
      errors: [
        'deployments/a.yaml:11:7: spec.ports[1].port: host port 8080/tcp is already published by spec.ports[0]',
      ],
      warnings: [],
    },
    {
      name: 'two Services on one domain',
      files: {
        'deployments/web.yaml': dep('web', 8080),
        'services/a.yaml': svc('a', 'web', 'app.example.com'),
        'services/b.yaml': svc('b', 'web', 'app.example.com'),
      },
      errors: [
        'services/b.yaml:9:7: spec.ingress.domain.default: domain "app.example.com" is also claimed by Service "a" (services/a.yaml:9:7)',
      ],
      warnings: [],
    },
    {
      name: 'a selector matching no Node',
      files: { 'nodes/n.yaml': node('n'), 'deployments/a.yaml': dep('a', 8080, '  nodeName: m\n') },
      errors: [],
      warnings: ['deployments/a.yaml:10:3: warning: spec.nodeName: selects no Node in this repository'],
    },
  ])('$name', ({ files, errors, warnings }) => {
    expect(check(files)).toEqual({ errors, warnings });
  });

  it('falls back to the source annotation without a locator', () => {
    const { objects } = decodeManifestFile('services/web.yaml', svc('web', 'nope'), { commit: 'c0ffee' });
    expect(checkObjects(objects).errors.map((e) => e.format())).toEqual([
      'services/web.yaml:1:1: spec.deployment: Deployment "nope" not found',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { redactObject } from '../../../api/redact.ts';
import {
  SOPS_SECRET,
  sampleDeployment,
  sampleEvents,
  sampleNode,
  sampleService,
} from '../../../api/testdata.ts';
import type { WireObject } from '../../../api/types.ts';
import { ANSI_PALETTE } from './color.ts';
import { describeObject, fieldLabel } from './describe.ts';
import { eventAge, printEvents } from './events.ts';
import { asDocument, printJson, printName, yamlPrinter } from './output.ts';
import { TablePrinter, printTable } from './table.ts';
import { stripAnsi } from '../../tabwriter.ts';

const now = new Date('2025-01-01T12:00:00Z');
const web = redactObject(sampleDeployment(now));

describe('get tables', () => {
  it.each<[string, string, WireObject[], boolean, string]>([
    [
      'deployments',
      'Deployment',
      [web, sampleDeployment(now, 'api', { status: {} })],
      false,
      'NAME   READY   STATUS    RESTARTS   IMAGE        PORTS          AGE\n' +
        'web    1/1     Running   3          nginx:1.27   8080->80/tcp   5m3s\n' +
        'api    0/1     Pending   0          nginx:1.27   8080->80/tcp   5m3s\n',
    ],
    [
      'deployments -o wide',
      'Deployment',
      [web],
      true,
      'NAME   READY   STATUS    RESTARTS   IMAGE        PORTS          AGE    CONTAINER      IMAGE ID       NODE\n' +
        'web    1/1     Running   3          nginx:1.27   8080->80/tcp   5m3s   f00dfeedbeef   abcdef012345   <none>\n',
    ],
    [
      'services',
      'Service',
      [sampleService(now)],
      false,
      'NAME   DEPLOYMENT   URL                       TLS    READY   AGE\n' +
        'web    web          https://web.example.com   true   True    120m\n',
    ],
    [
      'nodes',
      'Node',
      [sampleNode(now)],
      false,
      'NAME     STATUS    BRANCH   REVISION   SYNCED    SUSPENDED   AGE\nedge-1   Unknown   main     0123456    12s ago   False       2d4h\n',
    ],
    [
      'nodes with a Flux revision',
      'Node',
      [
        {
          ...sampleNode(now),
          status: {
            revision: 'main@sha1:f92cd55a715841fc4581aea87ae5631ce1b9dce1',
            lastSyncTime: now.toISOString(),
          },
        },
      ],
      false,
      'NAME     STATUS    BRANCH   REVISION            SYNCED   SUSPENDED   AGE\nedge-1   Unknown   main     main@sha1:f92cd55   0s ago   False       2d4h\n',
    ],
    [
      'servicegraphs',
      'ServiceGraph',
      [
        {
          apiVersion: 'run.orcra.dev/v0alpha',
          kind: 'ServiceGraph',
          metadata: { name: 'stack', creationTimestamp: '2025-01-01T08:40:00Z' },
          spec: { orchfiles: ['Orchfile'] },
          status: {
            services: [
              { name: 'db', state: 'Ready', ready: true },
              { name: 'web', state: 'Starting' },
            ],
          },
        },
      ],
      false,
      'NAME    SERVICES   READY   SUSPENDED   AGE\nstack   db,web     1/2     False       3h20m\n',
    ],
  ])('%s', (_name, kind, objects, wide, expected) => {
    expect(printTable(kind, objects, { now, wide })).toBe(expected);
  });

  it('prints <none> for empty cells and kind-prefixed names for get all', () => {
    const bare: WireObject = {
      apiVersion: 'run.orcra.dev/v0alpha',
      kind: 'Service',
      metadata: { name: 'x' },
      spec: { deployment: 'web' },
    };
    expect(printTable('Service', [bare], { now, withKind: true })).toBe(
      'NAME        DEPLOYMENT   URL      TLS     READY     AGE\nservice/x   web          <none>   false   Unknown   <unknown>\n',
    );
  });

  it.each<[string, Partial<WireObject>, string]>([
    [
      'stalled',
      {
        status: {
          conditions: [
            {
              type: 'Stalled',
              status: 'True',
              reason: 'CrashLoopBackOff',
              message: '',
              lastTransitionTime: '',
            },
          ],
        },
      },
      'CrashLoopBackOff',
    ],
    [
      'reconciling',
      {
        status: {
          conditions: [
            { type: 'Reconciling', status: 'True', reason: 'Pulling', message: '', lastTransitionTime: '' },
          ],
        },
      },
      'Pulling',
    ],
    ['created, not ready', { status: { containerID: 'abc', ready: false } }, 'NotReady'],
    [
      'a RollingUpdate draining the old container while the new one serves: the phase',
      {
        status: {
          ...sampleDeployment(now).status,
          conditions: [
            { type: 'Ready', status: 'True', reason: 'ContainerReady', message: '', lastTransitionTime: '' },
            { type: 'Reconciling', status: 'True', reason: 'Draining', message: '', lastTransitionTime: '' },
          ],
        },
      },
      'Draining',
    ],
    [
      'the engine does not answer (the rest is the last known status, ready included)',
      {
        status: {
          ...sampleDeployment(now).status,
          observedGeneration: 1,
          conditions: [
            {
              type: 'Ready',
              status: 'Unknown',
              reason: 'EngineUnavailable',
              message: '',
              lastTransitionTime: '',
            },
          ],
        },
      },
      'EngineUnavailable',
    ],
    [
      'a new generation not yet acted on (status of the previous one)',
      { status: { ...sampleDeployment(now).status, observedGeneration: 1 } },
      'Progressing',
    ],
  ])('STATUS when %s', (_n, extra, expected) => {
    expect(printTable('Deployment', [sampleDeployment(now, 'x', extra)], { now }).split('\n')[1]).toContain(
      ` ${expected} `,
    );
  });

  it.each([
    ['True', 'Synced', 'Ready'],
    ['False', 'EngineUnavailable', 'EngineUnavailable'],
    ['False', 'GitOperationFailed', 'GitOperationFailed'],
  ])('node STATUS when Ready=%s/%s is %s', (status, reason, expected) => {
    const node = {
      ...sampleNode(now),
      status: { conditions: [{ type: 'Ready', status, reason, message: '', lastTransitionTime: '' }] },
    } as WireObject;
    expect(printTable('Node', [node], { now }).split('\n')[1]).toMatch(new RegExp(`^edge-1 +${expected} `));
  });

  it('keeps watch rows aligned under the header', () => {
    const t = new TablePrinter('Deployment', { now });
    expect(t.table([web])).toBe(
      'NAME   READY   STATUS    RESTARTS   IMAGE        PORTS          AGE\nweb    1/1     Running   3          nginx:1.27   8080->80/tcp   5m3s\n',
    );
    expect(t.row(sampleDeployment(now, 'api', { status: {} }))).toBe(
      'api    0/1     Pending   0          nginx:1.27   8080->80/tcp   5m3s\n',
    );
  });

  it('colours status only with a palette, without shifting columns', () => {
    const out = printTable('Deployment', [web], { now, palette: ANSI_PALETTE });
    expect(out).toContain('\x1b[32mRunning\x1b[0m   3');
    expect(stripAnsi(out)).toBe(printTable('Deployment', [web], { now }));
  });
});

describe('-o json|yaml|name', () => {
  it('a list is {apiVersion: v1, kind: List, items}', async () => {
    const printYaml = await yamlPrinter();
    expect(JSON.parse(printJson(asDocument([web], false)))).toMatchObject({
      apiVersion: 'v1',
      kind: 'List',
      items: [{ kind: 'Deployment' }],
    });
    expect(printYaml(asDocument([web, web], true))).toMatch(
      /^apiVersion: v1\nkind: List\nitems:\n- apiVersion: run.orcra.dev\/v0alpha\n/,
    );
  });

  it('one object prints alone, secrets as {secret: true}', async () => {
    const yaml = (await yamlPrinter())(asDocument([web], true));
    expect(yaml).toMatch(/^apiVersion: run.orcra.dev\/v0alpha\nkind: Deployment\n/);
    expect(yaml).toContain('    DB_PASSWORD:\n      secret: true\n');
    expect(yaml).toContain('  ports:\n  - containerPort: 80\n');
    expect(yaml).not.toContain(SOPS_SECRET);
    expect(printJson(web)).toContain('        "env": {\n');
  });

  it('name is kind/name', () => {
    expect(printName(web)).toBe('deployment/web\n');
  });
});

describe('describe', () => {
  it('prints metadata, spec, status, conditions and events like kubectl', () => {
    expect(describeObject(web, sampleEvents(now), { now })).toBe(
      [
        'Name:         web',
        'Kind:         Deployment',
        'API Version:  run.orcra.dev/v0alpha',
        'Labels:       app=web',
        '              tier=front',
        'Annotations:  run.orcra.dev/source: deployments/web.yaml@0123456789abcdef',
        'Created:      Wed, 01 Jan 2025 11:54:57 +0000 (5m3s ago)',
        'Generation:   2',
        'Spec:',
        '  Image:  nginx:1.27',
        '  Ports:',
        '    Container Port:  80',
        '    Port:            8080',
        '  Env:',
        '    MODE:         production',
        '    DB_PASSWORD:  <set to the secret value>',
        '  Health:',
        '    Readiness:',
        '      HTTP:  localhost:80/health',
        'Status:',
        '  Observed Generation:  2',
        '  Ready:                true',
        '  Container ID:         f00dfeedbeef0123456789abcdef',
        '  Image ID:             sha256:abcdef0123456789abcdef',
        '  Restarts:             3',
        'Conditions:',
        '  Type   Status  Reason          Message                 LastTransitionTime',
        '  ----   ------  ------          -------                 ------------------',
        '  Ready  True    ContainerReady  readiness probe passed  Wed, 01 Jan 2025 11:58:30 +0000',
        'Events:',
        '  Type     Reason   Age               From        Message',
        '  ----     ------   ----              ----        -------',
        '  Normal   Pulled   5m                deployment  image nginx:1.27 pulled',
        '  Warning  BackOff  60s (x3 over 5m)  deployment  restarting failed container',
        '',
      ].join('\n'),
    );
  });

  it('prints <none> for no annotations, conditions or events', () => {
    const out = describeObject({ apiVersion: 'v', kind: 'Service', metadata: { name: 's' }, spec: {} }, [], {
      now,
    });
    expect(out).toContain('Annotations:  <none>\n');
    expect(out).toContain('Conditions:  <none>\n');
    expect(out.endsWith('Events:  <none>\n')).toBe(true);
  });

  it("tabulates a ServiceGraph's services (kind, state, ready, restarts, exit code, since, last error)", () => {
    const sg: WireObject = {
      apiVersion: 'run.orcra.dev/v0alpha',
      kind: 'ServiceGraph',
      metadata: { name: 'canary' },
      spec: { orchfiles: ['Orchfile'] },
      status: {
        observedGeneration: 1,
        services: [
          { name: 'postgres', mode: 'container', state: 'Running', ready: true, restarts: 1, exitCode: 137,
            since: '2025-01-01T11:58:00Z', containerID: 'abc', lastError: 'exit code 137' },
          { name: 'db-migrate', mode: 'container', state: 'Completed', ready: true, restarts: 0, exitCode: 0,
            since: '2025-01-01T11:59:30Z' },
          { name: 'django', mode: 'host', state: 'Pending', ready: false, restarts: 0, message: 'waiting for db-migrate' },
        ],
      },
    }; // prettier-ignore
    const out = describeObject(sg, [], { now });
    expect(out).toContain(
      [
        'Services:',
        '  Service     Kind       State      Ready  Restarts  Exit Code  Since   Last Error',
        '  -------     ----       -----      -----  --------  ---------  -----   ----------',
        '  postgres    container  Running    True   1         137        2m      exit code 137',
        '  db-migrate  container  Completed  True   0         0          30s     <none>',
        '  django      host       Pending    False  0         <none>     <none>  <none>',
        '',
      ].join('\n'),
    );
    expect(out).toContain('Status:\n  Observed Generation:  1\nServices:');
  });

  it.each([
    ['containerPort', 'Container Port'],
    ['imageID', 'Image ID'],
    ['url', 'URL'],
    ['lastSyncTime', 'Last Sync Time'],
    ['ssl', 'SSL'],
  ])('field %s → %s', (field, label) => {
    expect(fieldLabel(field)).toBe(label);
  });

  it('event age shows repeats', () => {
    const [once, thrice] = sampleEvents(now);
    expect(eventAge(once!, now)).toBe('5m');
    expect(eventAge(thrice!, now)).toBe('60s (x3 over 5m)');
  });

  it('orunctl events table', () => {
    expect(printEvents(sampleEvents(now), now)).toBe(
      'LAST SEEN          TYPE      REASON    OBJECT           MESSAGE\n' +
        '5m                 Normal    Pulled    deployment/web   image nginx:1.27 pulled\n' +
        '60s (x3 over 5m)   Warning   BackOff   deployment/web   restarting failed container\n',
    );
  });
});

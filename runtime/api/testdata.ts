/**
 * Sample objects for tests of the API, the client and orunctl (shared with test/orunctl).
 * Timestamps are relative to `now` so printed ages are exact.
 */
import type { EventRecord, WireObject } from './types.ts';

/** A SOPS value whose ciphertext must never appear in any response. */
export const SOPS_SECRET = 'ENC[AES256_GCM,data:TOPSECRETCIPHERTEXT,iv:aXY=,tag:dGFn,type:str]';

export function ago(now: Date, seconds: number): string {
  return new Date(now.getTime() - seconds * 1000).toISOString();
}

export function sampleDeployment(now: Date, name = 'web', extra: Partial<WireObject> = {}): WireObject {
  return {
    apiVersion: 'run.orcra.dev/v0alpha',
    kind: 'Deployment',
    metadata: {
      name,
      labels: { app: name, tier: 'front' },
      annotations: { 'run.orcra.dev/source': `deployments/${name}.yaml@0123456789abcdef` },
      generation: 2,
      creationTimestamp: ago(now, 303),
      resourceVersion: '7',
    },
    spec: {
      image: 'nginx:1.27',
      ports: [{ containerPort: 80, port: 8080 }],
      env: { MODE: 'production', DB_PASSWORD: SOPS_SECRET },
      health: { readiness: { http: 'localhost:80/health' } },
    },
    status: {
      observedGeneration: 2,
      ready: true,
      containerID: 'f00dfeedbeef0123456789abcdef',
      imageID: 'sha256:abcdef0123456789abcdef',
      restarts: 3,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          observedGeneration: 2,
          lastTransitionTime: ago(now, 90),
          reason: 'ContainerReady',
          message: 'readiness probe passed',
        },
      ],
    },
    ...extra,
  };
}

export function sampleService(now: Date): WireObject {
  return {
    apiVersion: 'run.orcra.dev/v0alpha',
    kind: 'Service',
    metadata: { name: 'web', labels: { app: 'web' }, generation: 1, creationTimestamp: ago(now, 7200) },
    spec: { deployment: 'web', ingress: { domain: { default: 'web.example.com' }, ssl: true } },
    status: {
      observedGeneration: 1,
      url: 'https://web.example.com',
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          lastTransitionTime: ago(now, 7000),
          reason: 'RouteReady',
          message: 'route configured',
        },
      ],
    },
  };
}

export function sampleNode(now: Date): WireObject {
  return {
    apiVersion: 'run.orcra.dev/v0alpha',
    kind: 'Node',
    metadata: {
      name: 'edge-1',
      labels: { role: 'edge' },
      generation: 1,
      creationTimestamp: ago(now, 2 * 86400 + 4 * 3600),
    },
    spec: { host: '10.0.0.5', gitRepo: 'git@example.com:ops/fleet.git', gitBranch: 'main' },
    status: { revision: '0123456789abcdef0123', lastSyncTime: ago(now, 12) },
  };
}

export function sampleEvents(now: Date): EventRecord[] {
  return [
    {
      type: 'Normal',
      reason: 'Pulled',
      message: 'image nginx:1.27 pulled',
      count: 1,
      firstTimestamp: ago(now, 300),
      lastTimestamp: ago(now, 300),
      source: 'deployment',
      involvedObject: { kind: 'Deployment', name: 'web' },
    },
    {
      type: 'Warning',
      reason: 'BackOff',
      message: 'restarting failed container',
      count: 3,
      firstTimestamp: ago(now, 300),
      lastTimestamp: ago(now, 60),
      source: 'deployment',
      involvedObject: { kind: 'Deployment', name: 'web' },
    },
  ];
}

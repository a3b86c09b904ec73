/**
 * Test support: Service and Deployment objects as the store holds them, a Store with them, a
 * certificate checker the test flips, and a reconcile context.
 */
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { DeploymentStatus } from '../../apis/run.orcra.dev/v0alpha/deployment.ts';
import type { CertificateState } from '../../runtime/caddy/index.ts';
import { FakeClock } from '../../runtime/clock/index.ts';
import type { ReconcileContext } from '../../runtime/controller/index.ts';
import { silentLogger } from '../../runtime/log/index.ts';
import { Store } from '../../runtime/store/index.ts';
import type { CertificateChecker } from './deps.ts';

export interface SvcOpts {
  deployment?: string;
  domain?: string;
  environment?: string;
  ssl?: boolean;
  port?: number;
}

export function svc(name: string, o: SvcOpts = {}): ApiObject {
  return {
    apiVersion: 'run.orcra.dev/v0alpha',
    kind: 'Service',
    metadata: { name },
    spec: {
      deployment: o.deployment ?? name,
      ingress: {
        domain: {
          default: o.domain ?? `${name}.example.com`,
          ...(o.environment === undefined ? {} : { environment: o.environment }),
        },
        ssl: o.ssl ?? false,
        ...(o.port === undefined ? {} : { port: o.port }),
      },
    },
  };
}

export function dep(
  name: string,
  ports: { containerPort: number; port: number }[] = [{ containerPort: 80, port: 8080 }],
): ApiObject {
  return {
    apiVersion: 'run.orcra.dev/v0alpha',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      image: 'orun-test/busybox:1',
      ports: ports.map((p) => ({ ...p, protocol: 'tcp' })),
      volumes: [],
      env: {},
    },
  };
}

/** Marks a Deployment ready with its ports published as given (default: as in the spec). */
export function setReady(
  store: Store,
  name: string,
  ready: boolean,
  ports?: { containerPort: number; port: number }[],
): void {
  store.updateStatus<DeploymentStatus>('Deployment', name, (_old, obj) => ({
    ready,
    ports: (ports ?? (obj.spec as { ports: { containerPort: number; port: number }[] }).ports).map((p) => ({
      containerPort: p.containerPort,
      port: p.port,
      protocol: 'tcp' as const,
    })),
  }));
}

export function newStore(clock: FakeClock, objects: ApiObject[]): Store {
  const store = new Store({ clock });
  store.apply({ kinds: ['Service', 'Deployment'], objects });
  return store;
}

/** A checker whose answers the test sets per host (default: pending). */
export class FakeCertificates {
  readonly issued = new Map<string, CertificateState>();
  readonly checked: string[] = [];
  readonly check: CertificateChecker = (host) => {
    this.checked.push(host);
    return Promise.resolve(
      this.issued.get(host) ?? { issued: false, message: `no certificate served for ${host} yet (alert 80)` },
    );
  };
  issue(host: string, issuer = 'Pebble Intermediate CA 1a2b3c'): void {
    this.issued.set(host, {
      issued: true,
      issuer,
      notAfter: '2030-01-01T00:00:00.000Z',
      message: `issued by ${issuer}, valid until 2030-01-01T00:00:00.000Z`,
    });
  }
}

export function ctx(signal: AbortSignal = new AbortController().signal): ReconcileContext {
  return { key: 'Ingress/caddy', signal, log: silentLogger(), reconcileID: 'test' };
}

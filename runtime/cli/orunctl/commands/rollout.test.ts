/**
 * `orunctl rollout status` against the real API server on a temp socket with the fake backend:
 * the object's status changes while the command waits, as the Deployment controller writes it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Condition } from '../../../../apis/run.orcra.dev/v0alpha/meta.ts';
import { FakeApiBackend } from '../../../api/fake-backend.ts';
import { createApiServer } from '../../../api/server.ts';
import { listenUnixSocket, type UnixSocketListener } from '../../../api/socket.ts';
import { sampleDeployment, sampleNode } from '../../../api/testdata.ts';
import type { WireObject } from '../../../api/types.ts';
import { run } from '../program.ts';
import { rolloutVerdict } from './rollout.ts';

let dir: string;
let listener: UnixSocketListener;
let backend: FakeApiBackend;
const now = new Date();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orunctl-rollout-'));
  backend = new FakeApiBackend();
  backend.set(sampleNode(now));
  listener = await listenUnixSocket(join(dir, 'orun.sock'), createApiServer(backend));
});

afterEach(async () => {
  await listener.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs orunctl in process; `printed(part)` resolves once its stdout holds `part`. */
function orunctl(args: string[]): {
  done: Promise<number>;
  out: () => string;
  err: () => string;
  printed: (part: string) => Promise<void>;
} {
  let out = '';
  let err = '';
  const waiters: { part: string; resolve: () => void }[] = [];
  const wake = () => {
    for (const w of waiters.filter((x) => out.includes(x.part))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  const done = run(['--socket', join(dir, 'orun.sock'), ...args], {
    stdout: { write: (s: string) => ((out += s), wake()) },
    stderr: { write: (s: string) => (err += s) },
    env: {},
    signal: new AbortController().signal,
    now: () => now,
  });
  const printed = (part: string) =>
    new Promise<void>((resolve, reject) => {
      waiters.push({ part, resolve });
      wake();
      // The command ending first is a failure of the test, with what it printed.
      done.then(
        () => (out.includes(part) ? resolve() : reject(new Error(`ended without "${part}":\n${out}${err}`))),
        reject,
      );
    });
  return { done, out: () => out, err: () => err, printed };
}

function deployment(generation: number, observed: number, conditions: Partial<Condition>[]): WireObject {
  const d = sampleDeployment(now);
  return {
    ...d,
    metadata: { ...d.metadata, generation },
    status: {
      observedGeneration: observed,
      conditions: conditions.map((c) => ({
        status: 'True',
        lastTransitionTime: now.toISOString(),
        reason: '',
        message: '',
        type: 'Ready',
        ...c,
      })),
    },
  };
}

const rolling = (phase: string) =>
  deployment(3, 3, [
    { type: 'Ready', status: 'True', reason: 'ContainerReady' },
    { type: 'Reconciling', status: 'True', reason: phase, message: `${phase} in progress` },
  ]);

describe('rolloutVerdict', () => {
  it('reads kstatus: unobserved and Reconciling wait, Stalled fails, Ready is done', () => {
    expect(rolloutVerdict(deployment(3, 2, [{ type: 'Ready' }])).state).toBe('waiting');
    expect(rolloutVerdict(rolling('SwitchingTraffic'))).toEqual({
      state: 'waiting',
      message:
        'Waiting for deployment "web" rollout to finish: SwitchingTraffic: SwitchingTraffic in progress',
    });
    expect(
      rolloutVerdict(
        deployment(3, 3, [
          { type: 'Ready', status: 'True' },
          { type: 'Stalled', reason: 'ProgressDeadlineExceeded', message: 'not ready within 300s' },
        ]),
      ),
    ).toEqual({
      state: 'failed',
      message: 'deployment "web" rollout failed: ProgressDeadlineExceeded: not ready within 300s',
    });
    expect(rolloutVerdict(deployment(3, 3, [{ type: 'Ready', status: 'True' }])).state).toBe('done');
    expect(rolloutVerdict(deployment(3, 3, [{ type: 'Ready', status: 'False', reason: 'Probing' }]))).toEqual(
      {
        state: 'waiting',
        message: 'Waiting for deployment "web" rollout to finish: Probing',
      },
    );
  });
});

describe('orunctl rollout status', () => {
  it('waits through the phases of a RollingUpdate, then says rolled out (exit 0)', async () => {
    backend.set(deployment(3, 2, [{ type: 'Ready' }]));
    const r = orunctl(['rollout', 'status', 'deploy/web']);
    await r.printed('generation 3 not observed yet');
    backend.set(rolling('RollingUpdate'));
    await r.printed('RollingUpdate in progress');
    backend.set(rolling('Draining'));
    await r.printed('Draining in progress');
    backend.set(deployment(3, 3, [{ type: 'Ready', reason: 'ContainerReady' }]));
    expect(await r.done).toBe(0);
    expect(r.out()).toMatch(/Draining in progress\ndeployment "web" successfully rolled out\n$/);
  });

  it('a Stalled rollout fails with its reason (exit 1)', async () => {
    backend.set(rolling('RollingUpdate'));
    const r = orunctl(['rollout', 'status', 'deployment', 'web']);
    await r.printed('RollingUpdate in progress');
    backend.set(
      deployment(3, 3, [
        { type: 'Ready', status: 'True' },
        { type: 'Stalled', reason: 'ProgressDeadlineExceeded', message: 'readiness: HTTP 500' },
      ]),
    );
    expect(await r.done).toBe(1);
    expect(r.err()).toBe(
      'error: deployment "web" rollout failed: ProgressDeadlineExceeded: readiness: HTTP 500\n',
    );
  });

  it('--revision polls Git, then waits for the node to apply that commit before reading the Deployment', async () => {
    backend.set(deployment(2, 2, [{ type: 'Ready' }])); // rolled out, but at the old commit
    const r = orunctl(['rollout', 'status', 'deploy/web', '--revision', 'feedface']);
    await r.printed('Waiting for the node to apply feedface (at 0123456789abcdef0123)');
    expect(backend.reconciled).toContain('source');
    // The commit arrives: the store holds the new generation before the Node says its revision.
    backend.set(deployment(3, 2, [{ type: 'Ready' }]));
    const node = sampleNode(now);
    backend.set({
      ...node,
      status: {
        ...node.status,
        revision: `main@sha1:feedface${'0'.repeat(32)}`,
        conditions: [
          {
            type: 'ManifestsValid',
            status: 'False',
            reason: 'ManifestErrors',
            lastTransitionTime: now.toISOString(),
            message: '1 manifest error in deployments/api.yaml',
          },
        ],
      },
    });
    await r.printed('generation 3 not observed yet');
    backend.set(deployment(3, 3, [{ type: 'Ready' }]));
    expect(await r.done).toBe(0);
    expect(r.out()).toContain(`node applied revision main@sha1:feedface`);
    // Another file's error is said, not hidden (a Deployment it added would read as NotFound).
    expect(r.err()).toBe('warning: 1 manifest error in deployments/api.yaml\n');
  });

  it('--timeout ends a wait that does not finish (exit 1); a missing Deployment is NotFound at once', async () => {
    backend.set(rolling('RollingUpdate'));
    const r = orunctl(['rollout', 'status', 'deploy/web', '--timeout', '50ms']);
    expect(await r.done).toBe(1);
    expect(r.err()).toBe('error: timed out after 50ms waiting for deployment "web"\n');
    const missing = orunctl(['rollout', 'status', 'deploy/nope']);
    expect(await missing.done).toBe(1);
    expect(missing.err()).toMatch(/^Error from server \(NotFound\): /);
  });

  it('usage errors exit 2', async () => {
    for (const args of [
      ['rollout', 'status', 'svc/web'],
      ['rollout', 'status', 'deploy'],
      ['rollout', 'status', 'deploy/web', '--revision', 'HEAD'],
      ['rollout', 'status', 'deploy/web', '--timeout', 'soon'],
    ])
      expect(await orunctl(args).done, args.join(' ')).toBe(2);
  });
});

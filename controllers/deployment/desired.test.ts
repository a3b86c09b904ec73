import { describe, expect, it } from 'vitest';
import { SecretString } from '../../runtime/sops/secret.ts';
import { desiredContainer, Label, sourceCommit } from './desired.ts';
import type { DeploymentSpecView, DeploymentView } from './spec.ts';

function dep(spec: DeploymentSpecView, commit = 'abc'): DeploymentView {
  return {
    apiVersion: 'run.orcra.dev/v0alpha',
    kind: 'Deployment',
    metadata: { name: 'web', annotations: { 'run.orcra.dev/source': `deployments/web.yaml@${commit}` } },
    spec,
  };
}

const base: DeploymentSpecView = {
  image: 'nginx:1.27',
  ports: [{ containerPort: 80, port: 8080 }],
  volumes: [{ hostPath: '/srv/data', containerPath: '/data' }],
  env: { A: '1', B: '2' },
};

describe('desiredContainer', () => {
  it('names and labels the container', () => {
    const d = desiredContainer(dep(base));
    expect(d.name).toBe(`orun-web_${d.hash.slice(0, 8)}`);
    expect(desiredContainer(dep(base), { nodeName: 'node-1' }).name).toBe(
      `orun-web_node-1_${d.hash.slice(0, 8)}`,
    );
    expect(d.labels).toEqual({
      [Label.managedBy]: 'orun',
      [Label.deployment]: 'web',
      [Label.specHash]: d.hash,
      [Label.sourceCommit]: 'abc',
    });
    expect(d.image).toEqual({ kind: 'pull', ref: 'nginx:1.27', policy: 'IfNotPresent' });
  });

  it('hashes the same spec the same, whatever the commit or env key order', () => {
    const a = desiredContainer(dep(base, 'c1')).hash;
    const b = desiredContainer(dep({ ...base, env: { B: '2', A: '1' } }, 'c2')).hash;
    expect(a).toBe(b);
  });

  it.each<[string, DeploymentSpecView]>([
    ['image', { ...base, image: 'nginx:1.28' }],
    ['env value', { ...base, env: { A: '1', B: '3' } }],
    ['env added', { ...base, env: { A: '1', B: '2', C: '' } }],
    ['host port', { ...base, ports: [{ containerPort: 80, port: 8081 }] }],
    ['protocol', { ...base, ports: [{ containerPort: 80, port: 8080, protocol: 'udp' }] }],
    ['volume', { ...base, volumes: [{ hostPath: '/srv/other', containerPath: '/data' }] }],
    ['read-only', { ...base, volumes: [{ hostPath: '/srv/data', containerPath: '/data', readOnly: true }] }],
    ['secret', { ...base, env: { A: '1', B: new SecretString('2') } }],
  ])('changes the hash when the %s changes', (_what, spec) => {
    expect(desiredContainer(dep(spec)).hash).not.toBe(desiredContainer(dep(base)).hash);
  });

  it('does not change the hash for probes (they do not shape the container)', () => {
    const probed = { ...base, health: { liveness: { http: 'localhost:80/' } } };
    expect(desiredContainer(dep(probed)).hash).toBe(desiredContainer(dep(base)).hash);
  });

  it('hashes secrets stably without revealing them anywhere but the container spec', () => {
    const s = (v: string) => dep({ ...base, env: { PASSWORD: new SecretString(v) } });
    expect(desiredContainer(s('hunter2')).hash).toBe(desiredContainer(s('hunter2')).hash);
    expect(desiredContainer(s('hunter2')).hash).not.toBe(desiredContainer(s('hunter3')).hash);
    const d = desiredContainer(s('hunter2'));
    expect(JSON.stringify({ ...d, containerSpec: undefined })).not.toContain('hunter2');
    expect(d.containerSpec().env).toEqual({ PASSWORD: 'hunter2' });
  });

  it('derives the build tag from the build inputs and resolves the context under codeDir', () => {
    const b = (args: Record<string, string>) =>
      desiredContainer(dep({ build: { context: 'apps/web', args } }), { codeDir: '/code' });
    const one = b({ V: '1' });
    expect(one.image).toMatchObject({ kind: 'build', contextDir: '/code/apps/web', args: { V: '1' } });
    expect(one.image.ref).toMatch(/^orun-build\/web:[0-9a-f]{12}$/);
    expect(b({ V: '1' }).image.ref).toBe(one.image.ref);
    expect(b({ V: '2' }).image.ref).not.toBe(one.image.ref);
  });

  it.each([
    ['nginx', 'Always'],
    ['nginx:latest', 'Always'],
    ['nginx:1', 'IfNotPresent'],
    ['nginx@sha256:' + 'a'.repeat(64), 'IfNotPresent'],
  ])('pull policy of %s defaults to %s', (image, policy) => {
    expect(desiredContainer(dep({ image })).image).toMatchObject({ policy });
  });

  it('an explicit pull policy wins', () => {
    expect(desiredContainer(dep({ image: 'nginx', imagePullPolicy: 'Never' })).image).toMatchObject({
      policy: 'Never',
    });
  });

  it('builds the engine request', () => {
    const d = desiredContainer(dep(base));
    expect(d.containerSpec()).toEqual({
      name: d.name,
      image: 'nginx:1.27',
      labels: d.labels,
      env: { A: '1', B: '2' },
      ports: [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }],
      binds: [{ hostPath: '/srv/data', containerPath: '/data', readOnly: false, createHostPath: true }],
      stopTimeoutSeconds: 10,
    });
  });

  it('keeps the hash of a spec written before the new fields existed (adoption across upgrades)', () => {
    // The hash main computed for `base` before command/args/resources/... were added.
    expect(desiredContainer(dep(base)).hash).toBe('ca83a67bda4bd1e1');
  });

  it('maps the process, limits, stop and network fields to the engine request', () => {
    const d = desiredContainer(
      dep({
        image: 'orun-test/python:1',
        command: ['python3'],
        args: ['-m', 'http.server', '9000'],
        workingDir: '/srv',
        user: '1000:1000',
        resources: { limits: { memory: '256Mi', cpu: '500m' } },
        stopSignal: 'SIGQUIT',
        stopGracePeriod: '30s',
        ports: [{ containerPort: 9000 }, { containerPort: 9001, port: 19001, hostIP: '127.0.0.1' }],
        volumes: [{ hostPath: '/srv/must', containerPath: '/m', type: 'Directory' }],
      }),
      { networkName: 'orun-n1', nodeName: 'n1' },
    );
    expect(d.strategy).toBe('Recreate');
    expect(d.stopGraceSeconds).toBe(30);
    expect(d.containerSpec()).toMatchObject({
      entrypoint: ['python3'],
      cmd: ['-m', 'http.server', '9000'],
      workingDir: '/srv',
      user: '1000:1000',
      memoryBytes: 256 * 1024 * 1024,
      nanoCpus: 500_000_000,
      stopSignal: 'SIGQUIT',
      stopTimeoutSeconds: 30,
      network: { name: 'orun-n1', aliases: ['web'] },
      ports: [
        { containerPort: 9000, protocol: 'tcp' },
        { containerPort: 9001, hostPort: 19001, hostIP: '127.0.0.1', protocol: 'tcp' },
      ],
      binds: [{ hostPath: '/srv/must', containerPath: '/m', readOnly: false, createHostPath: false }],
    });
    expect(desiredContainer(dep({ image: 'x:1', ports: [{ containerPort: 80 }] })).strategy).toBe(
      'RollingUpdate',
    );
  });

  it.each([
    ['command', { command: ['sh'] }],
    ['args', { args: ['-c', 'true'] }],
    ['memory', { resources: { limits: { memory: '1Gi' } } }],
    ['stop signal', { stopSignal: 'SIGINT' }],
    ['hostIP', { ports: [{ containerPort: 80, port: 8080, hostIP: '127.0.0.1' }] }],
  ])('changes the hash when %s is set', (_what, extra) => {
    expect(desiredContainer(dep({ ...base, ...extra })).hash).not.toBe(desiredContainer(dep(base)).hash);
  });

  it.each([
    ['strategy', { strategy: { type: 'Recreate' as const } }],
    ['progress deadline', { progressDeadlineSeconds: 60 }],
  ])('does not change the hash for %s (it shapes the rollout, not the container)', (_what, extra) => {
    expect(desiredContainer(dep({ ...base, ...extra })).hash).toBe(desiredContainer(dep(base)).hash);
  });

  it.each([
    [{ 'run.orcra.dev/source': 'deployments/web.yaml@abc123' }, 'abc123'],
    [{}, 'unknown'],
  ])('source commit from %j is %s', (annotations, commit) => {
    expect(sourceCommit({ ...dep(base), metadata: { name: 'web', annotations } })).toBe(commit);
  });
});

describe('desiredContainer: secrets from secrets.yaml', () => {
  const keys = (values: Record<string, string>, unavailable?: string) => ({
    get: (k: string) =>
      unavailable === undefined && k in values ? new SecretString(values[k] ?? '') : undefined,
    names: () => (unavailable === undefined ? Object.keys(values) : []),
    unavailable: () => unavailable,
  });
  const withRef: DeploymentSpecView = { ...base, env: { A: '1', DB: { secretKeyRef: 'db_password' } } };

  it('resolves secretKeyRef into the container env only', () => {
    const d = desiredContainer(dep(withRef), { secretKeys: keys({ db_password: 's3cret' }) });
    expect(d.undecryptable).toEqual([]);
    expect(d.containerSpec().env).toEqual({ A: '1', DB: 's3cret' });
    expect(JSON.stringify({ ...d, spec: undefined })).not.toContain('s3cret');
    expect(d.hash).not.toContain('s3cret');
  });

  it('changes the hash when the value changes, keyed by the node key', () => {
    const h = (v: string, secretHashKey = 'node-a') =>
      desiredContainer(dep(withRef), { secretKeys: keys({ db_password: v }), secretHashKey }).hash;
    expect(h('one')).toBe(h('one'));
    expect(h('one')).not.toBe(h('two'));
    expect(h('one', 'node-a')).not.toBe(h('one', 'node-b'));
  });

  it('envFrom offers every key; an explicit env value wins', () => {
    const spec: DeploymentSpecView = {
      ...base,
      env: { A: 'explicit' },
      envFrom: [{ secretRef: 'secrets.yaml' }],
    };
    const d = desiredContainer(dep(spec), {
      secretKeys: keys({ A: 'from-file', B_KEY: 'b', 'not valid!': 'x' }),
    });
    expect(d.containerSpec().env).toEqual({ A: 'explicit', B_KEY: 'b' });
  });

  it.each<[string, DeploymentSpecView, ReturnType<typeof keys> | undefined, RegExp]>([
    [
      'a missing key',
      withRef,
      keys({}),
      /^env DB: secretKeyRef db_password: secrets.yaml has no top-level key "db_password"$/,
    ],
    ['no age key', withRef, keys({}, 'secrets.yaml could not be decrypted (SopsNoKey)'), /SopsNoKey/],
    ['no secrets.yaml support', withRef, undefined, /not read on this node/],
    [
      'envFrom without the file',
      { ...base, envFrom: [{ secretRef: 'secrets.yaml' }] },
      keys({}, 'the repository has no secrets.yaml'),
      /^envFrom secrets.yaml: the repository has no secrets.yaml$/,
    ],
    [
      'an undecrypted inline value',
      { ...base, env: { X: 'ENC[AES256_GCM,data:a,iv:b,tag:c,type:str]' } },
      keys({}),
      /^env X: SOPS ENC/,
    ],
    [
      'a file of a missing key',
      { ...base, secretFiles: [{ key: 'tls' }] },
      keys({}),
      /^file tls: secretKeyRef tls/,
    ],
  ])('reports %s as undecryptable, naming keys only', (_what, spec, secretKeys, message) => {
    const d = desiredContainer(dep(spec), {
      ...(secretKeys === undefined ? {} : { secretKeys }),
      secretFilesDir: () => '/run/x',
    });
    expect(d.undecryptable).toHaveLength(1);
    expect(d.undecryptable[0]).toMatch(message);
  });

  it('mounts secret files read-only at /run/secrets from the per-hash tmpfs dir', () => {
    const spec: DeploymentSpecView = { ...base, secretFiles: [{ key: 'tls', name: 'tls.key' }] };
    const d = desiredContainer(dep(spec), {
      secretKeys: keys({ tls: 'PEM' }),
      secretFilesDir: (name, hash) => `/dev/shm/s/${name}/${hash}`,
    });
    expect(d.secretFiles.map((f) => [f.name, f.value.reveal()])).toEqual([['tls.key', 'PEM']]);
    expect(d.containerSpec().binds).toContainEqual({
      hostPath: `/dev/shm/s/web/${d.hash}`,
      containerPath: '/run/secrets',
      readOnly: true,
    });
    const changed = desiredContainer(dep(spec), {
      secretKeys: keys({ tls: 'PEM2' }),
      secretFilesDir: (name, hash) => `/dev/shm/s/${name}/${hash}`,
    });
    expect(changed.hash).not.toBe(d.hash);
  });

  it('a secret file’s owner and mode are passed to the writer and hashed only when set', () => {
    const opts = { secretKeys: keys({ pw: 'x' }), secretFilesDir: () => '/run/x' };
    const plain = desiredContainer(dep({ ...base, secretFiles: [{ key: 'pw' }] }), opts);
    expect(plain.secretFiles[0]?.owner).toBeUndefined();
    const owned = desiredContainer(
      dep({ ...base, secretFiles: [{ key: 'pw', uid: '999', gid: 999, mode: '0440' }] }),
      opts,
    );
    expect(owned.secretFiles[0]?.owner).toEqual({ uid: 999, gid: 999, mode: 0o440 });
    expect(owned.hash).not.toBe(plain.hash);
    const other = desiredContainer(dep({ ...base, secretFiles: [{ key: 'pw', uid: 998 }] }), opts);
    expect(other.hash).not.toBe(owned.hash);
    expect(other.secretFiles[0]?.owner).toEqual({ uid: 998, gid: 0, mode: 0o400 });
  });

  it('without a secret files directory, a Deployment with secretFiles stalls', () => {
    const spec: DeploymentSpecView = { ...base, secretFiles: [{ key: 'tls' }] };
    const d = desiredContainer(dep(spec), { secretKeys: keys({ tls: 'PEM' }) });
    expect(d.undecryptable).toEqual([
      'secretFiles: this node has no secret files directory (a tmpfs) configured',
    ]);
  });
});

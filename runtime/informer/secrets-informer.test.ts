import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { FakeClock } from '../clock/index.ts';
import { FakeGitClient } from '../git/fake-client.ts';
import { GitSource } from '../git/source.ts';
import { loadManifestTree } from '../manifests/tree.ts';
import { encryptSopsDocument, openSopsFile, sealInline, SopsManifestDecryptor } from '../sops/index.ts';
import { Store } from '../store/index.ts';
import { GitInformer } from './informer.ts';
import { MemoryLastGoodStore, type SavedLastGood } from './lastgood.ts';

const REMOTE = 'file:///fake/secrets.git';
const node: ApiObject = {
  apiVersion: 'run.orcra.dev/v0alpha',
  kind: 'Node',
  metadata: { name: 'n1' },
  spec: { host: 'h', gitRepo: REMOTE },
};
const dep = (name: string, env: string) =>
  `apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  image: nginx:1\n  env:\n${env}`;

async function fixture() {
  const id = await generateX25519Identity();
  const recipient = await identityToRecipient(id);
  const secrets = await encryptSopsDocument('db_password: from-secrets-yaml\n', { recipients: [recipient] });
  const { dataKey } = await openSopsFile(secrets, [id]);
  const inline = (name: string, key: string, value: string) =>
    sealInline(value, dataKey, { kind: 'Deployment', name, path: ['spec', 'env', key] });
  return { id, recipient, secrets, inline };
}

function start(client: FakeGitClient, id: string, lastGood?: MemoryLastGoodStore) {
  const store = new Store();
  const informer = new GitInformer({
    store,
    nodeName: 'n1',
    source: new GitSource({
      remote: REMOTE,
      branch: 'main',
      dir: '/fake/data/repo',
      client,
      clock: new FakeClock(),
    }),
    loader: loadManifestTree,
    decryptor: new SopsManifestDecryptor(() => Promise.resolve([id])),
    fallbackNode: () => node,
    retryMs: 1,
    ...(lastGood === undefined ? {} : { lastGood }),
  });
  const ac = new AbortController();
  const done = informer.start(ac.signal);
  return { store, informer, stop: () => (ac.abort(), done) };
}

describe('GitInformer: secrets.yaml and inline values', () => {
  it('offers secrets.yaml keys, opens inline values bound to their place, refuses a moved one at file:line', async () => {
    const f = await fixture();
    const client = new FakeGitClient();
    const good = f.inline('web', 'TOKEN', 'inline-secret');
    client.push(REMOTE, 'main', 'a', {
      files: {
        'secrets.yaml': f.secrets,
        'deployments/web.yaml': dep('web', `    TOKEN: ${good}\n    DB: {secretKeyRef: db_password}\n`),
        // copied from web: bound to web's TOKEN, so it fails here
        'deployments/api.yaml': dep('api', `    TOKEN: ${good}\n`),
      },
    });
    const h = start(client, f.id);
    const applied = await firstValueFrom(h.informer.applied$);
    expect(h.store.list('Deployment').map((d) => d.metadata.name)).toEqual(['web']);
    const web = h.store.get('Deployment', 'web') as unknown as { spec: { env: Record<string, unknown> } };
    expect(web.spec.env).toEqual({ TOKEN: good, DB: { secretKeyRef: 'db_password' } }); // ciphertext in the store
    expect(h.informer.resolveSecret(good)?.reveal()).toBe('inline-secret');
    expect(h.informer.secretKeys.get('db_password')?.reveal()).toBe('from-secrets-yaml');
    expect(applied.errors).toEqual([
      expect.objectContaining({
        file: 'deployments/api.yaml',
        line: 8,
        path: 'spec.env.TOKEN',
        code: 'SopsMacMismatch',
      }),
    ]);
    expect(JSON.stringify(applied.errors)).not.toMatch(/inline-secret|from-secrets-yaml/);
    expect(h.informer.redactText('x inline-secret y from-secrets-yaml')).toBe('x [REDACTED] y [REDACTED]');
    await h.stop();
  });

  it('a tampered inline value keeps the last good version; a secrets.yaml change is announced', async () => {
    const f = await fixture();
    const client = new FakeGitClient();
    const good = f.inline('web', 'TOKEN', 'v1');
    client.push(REMOTE, 'main', 'a', {
      files: { 'secrets.yaml': f.secrets, 'deployments/web.yaml': dep('web', `    TOKEN: ${good}\n`) },
    });
    const h = start(client, f.id);
    const changes = firstValueFrom(h.informer.secretsChanged$.pipe(take(2), toArray()));
    const results = firstValueFrom(h.informer.applied$.pipe(take(2), toArray()));
    await firstValueFrom(h.informer.applied$);
    const tampered = good.replace(/data:[A-Za-z0-9+/]{2}/, 'data:QQ');
    const secrets2 = await encryptSopsDocument('db_password: changed\n', { recipients: [f.recipient] });
    client.push(REMOTE, 'main', 'b', {
      files: { 'secrets.yaml': secrets2, 'deployments/web.yaml': dep('web', `    TOKEN: ${tampered}\n`) },
    });
    await h.informer.source().syncNow();
    const [, second] = await results;
    expect(second?.errors.map((e) => [e.file, e.path, e.code])).toEqual([
      ['deployments/web.yaml', 'spec.env.TOKEN', 'SopsMacMismatch'],
    ]);
    expect(second?.keptFiles).toEqual(['deployments/web.yaml']);
    const web = h.store.get('Deployment', 'web') as unknown as { spec: { env: Record<string, unknown> } };
    expect(web.spec.env['TOKEN']).toBe(good);
    expect(h.informer.resolveSecret(good)?.reveal()).toBe('v1');
    expect(await changes).toHaveLength(2);
    await h.stop();
  });

  it('an invalid encrypted field is reported without its value; decrypted fields are named for redaction', async () => {
    const f = await fixture();
    const client = new FakeGitClient();
    const file = await encryptSopsDocument(
      'apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    token: annot-secret\nspec:\n  image: nginx:1\n  ports:\n    - containerPort: not-a-port-s3cret\n      port: 8080\n',
      { recipients: [f.recipient], encryptedRegex: '^(token|containerPort)$' },
    );
    const ok = await encryptSopsDocument(
      'apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: api\n  annotations:\n    token: annot-secret\nspec:\n  image: nginx:1\n',
      { recipients: [f.recipient], encryptedRegex: '^token$' },
    );
    client.push(REMOTE, 'main', 'a', { files: { 'deployments/web.yaml': file, 'deployments/api.yaml': ok } });
    const h = start(client, f.id);
    const applied = await firstValueFrom(h.informer.applied$);
    expect(applied.errors).toEqual([
      expect.objectContaining({
        file: 'deployments/web.yaml',
        path: 'spec.ports[0].containerPort',
        message: 'invalid value (encrypted in Git; not shown)',
      }),
    ]);
    expect(JSON.stringify(applied.errors)).not.toContain('s3cret');
    expect(h.informer.secretPathsOf('Deployment', 'api')).toEqual(['metadata.annotations.token']);
    await h.stop();
  });

  // The flaky roll (issue 11): secrets.yaml's new values were visible to the Deployment
  // controller while the store still held the previous revision's objects (between loading a
  // revision and applying it: decrypting other files, writing last-good.json). A reconcile in that
  // window rolled the container to a spec no commit had (new secret, old manifest), then rolled
  // it again. A revision's secrets now change in the same synchronous step as its objects.
  it('a revision’s secrets.yaml values become visible together with its objects, never before', async () => {
    const f = await fixture();
    const client = new FakeGitClient();
    let release = (): void => undefined;
    let armed = false;
    let seen: { image: unknown; db: string | undefined } | undefined;
    const h = { informer: undefined as GitInformer | undefined, store: undefined as Store | undefined };
    class SlowDisk extends MemoryLastGoodStore {
      override async save(saved: SavedLastGood): Promise<void> {
        if (armed) {
          armed = false;
          // What a reconcile running now would read: the store's object and secrets.yaml's value.
          const web = h.store?.get('Deployment', 'web') as unknown as
            { spec: { image: unknown } } | undefined;
          seen = { image: web?.spec.image, db: h.informer?.secretKeys.get('db_password')?.reveal() };
          await new Promise<void>((r) => (release = r));
        }
        return super.save(saved);
      }
    }
    const web = (image: string) =>
      dep('web', '    DB: {secretKeyRef: db_password}\n').replace('nginx:1', image);
    client.push(REMOTE, 'main', 'a', {
      files: { 'secrets.yaml': f.secrets, 'deployments/web.yaml': web('nginx:1') },
    });
    const started = start(client, f.id, new SlowDisk());
    Object.assign(h, started);
    await firstValueFrom(started.informer.applied$);
    const secrets2 = await encryptSopsDocument('db_password: rotated\n', { recipients: [f.recipient] });
    client.push(REMOTE, 'main', 'b', {
      files: { 'secrets.yaml': secrets2, 'deployments/web.yaml': web('nginx:2') },
    });
    const next = firstValueFrom(started.informer.applied$);
    armed = true;
    const sync = started.informer.source()?.syncNow();
    await new Promise<void>((r) => {
      const wait = (): void => (seen === undefined ? void setTimeout(wait, 1) : r());
      wait();
    });
    // Mid-revision: the old objects with the old secrets, not a mix.
    expect(seen).toEqual({ image: 'nginx:1', db: 'from-secrets-yaml' });
    release();
    await sync;
    await next;
    const after = started.store.get('Deployment', 'web') as unknown as { spec: { image: unknown } };
    expect([after.spec.image, started.informer.secretKeys.get('db_password')?.reveal()]).toEqual([
      'nginx:2',
      'rotated',
    ]);
    await started.stop();
  });
});

// A whole-file SOPS manifest's last good version is saved as its ciphertext and decrypted again
// after a restart: a restart while the file is broken keeps its objects, with no plaintext on disk.
const PLAIN = { annotation: 'annotation-plaintext-1', env: 'env-plaintext-2', inline: 'inline-plaintext-3' };
const plainDep = (name: string, extra = '') =>
  `apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: ${name}\n${extra}spec:\n  image: nginx:1\n`;

/** One agent run on the remote's tip, with `saved` as its last-good.json. */
async function runOnce(client: FakeGitClient, saved: MemoryLastGoodStore, id: string) {
  const h = start(client, id, saved);
  const applied = await firstValueFrom(h.informer.applied$);
  await h.stop();
  return { store: h.store, informer: h.informer, applied };
}

async function sopsDeployment(recipient: string): Promise<string> {
  const plain = plainDep('web', `  annotations:\n    token: ${PLAIN.annotation}\n`).replace(
    '  image: nginx:1\n',
    `  image: nginx:1\n  env:\n    DB: ${PLAIN.env}\n`,
  );
  return encryptSopsDocument(plain, { recipients: [recipient], encryptedRegex: '^(token|env)$' });
}

describe('GitInformer: a SOPS file’s last good version survives a restart, sealed', () => {
  it('is saved as its ciphertext, decrypted again after a restart with the file broken', async () => {
    const id = await generateX25519Identity();
    const enc = await sopsDeployment(await identityToRecipient(id));
    const client = new FakeGitClient();
    const saved = new MemoryLastGoodStore();
    client.push(REMOTE, 'main', 'a', { files: { 'deployments/web.yaml': enc } });
    const first = await runOnce(client, saved, id);
    const source = first.store.get('Deployment', 'web')?.metadata.annotations?.['run.orcra.dev/source'];
    expect(source).toMatch(/^deployments\/web\.yaml@/);
    expect(saved.text).toContain('"sealed"');
    expect(saved.text).toContain('deployments/web.yaml');
    for (const p of Object.values(PLAIN)) expect(saved.text).not.toContain(p);

    client.push(REMOTE, 'main', 'b', {
      files: { 'deployments/web.yaml': enc.replace('mac: ENC[', 'mac: ENC[x') },
    });
    const { store, informer, applied } = await runOnce(client, saved, id);
    expect(applied.keptFiles).toEqual(['deployments/web.yaml']);
    const web = store.get('Deployment', 'web') as ApiObject & { spec: { env: Record<string, string> } };
    expect(web.metadata.annotations).toMatchObject({
      token: PLAIN.annotation,
      'run.orcra.dev/source': source,
    });
    expect(informer.resolveSecret(web.spec.env['DB'] ?? '')?.reveal()).toBe(PLAIN.env);
    expect(informer.secretPathsOf('Deployment', 'web')).toEqual(['metadata.annotations.token']);
    // Still sealed after the second run; the broken text was never saved.
    expect(saved.text).not.toContain('ENC[x');
    for (const p of Object.values(PLAIN)) expect(saved.text).not.toContain(p);
  });

  it('cannot rebuild them when the node’s key no longer opens the saved copy (nothing in clear to fall back on)', async () => {
    const id = await generateX25519Identity();
    const client = new FakeGitClient();
    const saved = new MemoryLastGoodStore();
    client.push(REMOTE, 'main', 'a', {
      files: { 'deployments/web.yaml': await sopsDeployment(await identityToRecipient(id)) },
    });
    await runOnce(client, saved, id);
    const { store, applied } = await runOnce(client, saved, await generateX25519Identity());
    expect(applied.errors.map((e) => e.code)).toEqual(['SopsNoMatchingKey']);
    expect(store.get('Deployment', 'web')).toBeUndefined();
  });

  it('a plain file’s inline ENC[...] values are opened again from its last good objects after a restart', async () => {
    const id = await generateX25519Identity();
    const recipient = await identityToRecipient(id);
    const secrets = await encryptSopsDocument('K: v\n', { recipients: [recipient] });
    const { dataKey } = await openSopsFile(secrets, [id]);
    const inline = sealInline(PLAIN.inline, dataKey, {
      kind: 'Deployment',
      name: 'api',
      path: ['spec', 'env', 'T'],
    });
    const good = plainDep('api').replace(
      '  image: nginx:1\n',
      `  image: nginx:1\n  env:\n    T: ${inline}\n`,
    );
    const client = new FakeGitClient();
    const saved = new MemoryLastGoodStore();
    client.push(REMOTE, 'main', 'a', { files: { 'secrets.yaml': secrets, 'deployments/api.yaml': good } });
    await runOnce(client, saved, id);
    client.push(REMOTE, 'main', 'b', {
      files: { 'secrets.yaml': secrets, 'deployments/api.yaml': 'kind: [' },
    });
    const { store, informer } = await runOnce(client, saved, id);
    const api = store.get('Deployment', 'api') as ApiObject & { spec: { env: Record<string, string> } };
    expect(api.spec.env['T']).toBe(inline);
    expect(informer.resolveSecret(inline)?.reveal()).toBe(PLAIN.inline);
  });
});

describe('GitInformer: secrets after a restart while Git has no revision to apply', () => {
  it('secrets.yaml is saved as its ciphertext and opened again: secretKeyRef and inline values resolve from the restored objects', async () => {
    const f = await fixture();
    const up = new FakeGitClient();
    const good = f.inline('web', 'TOKEN', 'inline-secret');
    up.push(REMOTE, 'main', 'a', {
      files: {
        'secrets.yaml': f.secrets,
        'deployments/web.yaml': dep('web', `    TOKEN: ${good}\n    DB: {secretKeyRef: db_password}\n`),
      },
    });
    const saved = new MemoryLastGoodStore();
    const first = start(up, f.id, saved);
    await firstValueFrom(first.informer.applied$);
    await first.stop();
    expect(saved.text).toContain('ENC[');
    expect(saved.text).not.toMatch(/inline-secret|from-secrets-yaml/);

    const h = start(new FakeGitClient(), f.id, saved); // no remote: unreachable
    const restored = await firstValueFrom(h.informer.applied$);
    expect(restored.restored).toBeDefined();
    expect(h.store.list('Deployment').map((d) => d.metadata.name)).toEqual(['web']);
    expect(h.informer.secretKeys.get('db_password')?.reveal()).toBe('from-secrets-yaml');
    expect(h.informer.resolveSecret(good)?.reveal()).toBe('inline-secret');
    expect(h.informer.redactText('a inline-secret b from-secrets-yaml')).toBe('a [REDACTED] b [REDACTED]');
    await h.stop();
  });
});

import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { FakeClock } from '../clock/index.ts';
import { FakeGitClient } from '../git/fake-client.ts';
import { GitSource } from '../git/source.ts';
import { loadManifestTree } from '../manifests/tree.ts';
import { encryptSopsDocument, openSopsFile, sealInline, SopsManifestDecryptor } from '../sops/index.ts';
import { Store } from '../store/index.ts';
import { GitInformer } from './informer.ts';
import { MemoryLastGoodStore } from './lastgood.ts';

// A whole-file SOPS manifest's last good version is saved as its ciphertext and decrypted again
// after a restart: a restart while the file is broken keeps its objects, with no plaintext on disk.
const REMOTE = 'file:///fake/lastgood-sops.git';
const node: ApiObject = {
  apiVersion: 'run.orcra.dev/v0alpha',
  kind: 'Node',
  metadata: { name: 'n1' },
  spec: { host: 'h', gitRepo: REMOTE },
};
const PLAIN = { annotation: 'annotation-plaintext-1', env: 'env-plaintext-2', inline: 'inline-plaintext-3' };
const dep = (name: string, extra = '') =>
  `apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: ${name}\n${extra}spec:\n  image: nginx:1\n`;

/** One agent run on the remote's tip, with `saved` as its last-good.json. */
async function runOnce(client: FakeGitClient, saved: MemoryLastGoodStore, id: string) {
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
    lastGood: saved,
    retryMs: 1,
  });
  const ac = new AbortController();
  const done = informer.start(ac.signal);
  const applied = await firstValueFrom(informer.applied$);
  ac.abort();
  await done;
  return { store, informer, applied };
}

async function sopsDeployment(recipient: string): Promise<string> {
  const plain = dep('web', `  annotations:\n    token: ${PLAIN.annotation}\n`).replace(
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
    const good = dep('api').replace('  image: nginx:1\n', `  image: nginx:1\n  env:\n    T: ${inline}\n`);
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

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { renderNodeManifest, sameNode } from '../../runtime/provision/index.ts';
import { resolveRequest, type Prompt } from './bootstrap.ts';

const flags = { host: 'h', repo: 'https://x/r.git', label: [['a', 'b']] as [string, string][] };
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Answers questions in order; records them. */
function scripted(answers: string[]): Prompt & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    ask: (q, def) => {
      asked.push(def === undefined ? q : `${q} [${def}]`);
      return Promise.resolve(answers.shift() || def || '');
    },
    close: () => undefined,
  };
}

describe('orun bootstrap request', () => {
  it('resolves relative paths, keeps ~/, takes the agent from SSH_AUTH_SOCK, applies defaults', async () => {
    const req = await resolveRequest(
      'n',
      { ...flags, identity: 'keys/id', knownHosts: 'kh' },
      {
        SSH_AUTH_SOCK: '/run/agent',
      },
    );
    expect(req.identity).toBe(`${process.cwd()}/keys/id`);
    expect(req.knownHosts).toBe(`${process.cwd()}/kh`);
    expect(req.agent).toBe('/run/agent');
    expect(req.labels).toEqual({ a: 'b' });
    const plain = await resolveRequest('n', flags, {});
    expect(plain).toMatchObject({
      identity: '~/.ssh/id_ed25519',
      user: 'root',
      port: 22,
      branch: 'main',
      pollInterval: '5s',
      dataDir: '/opt/orun/',
    });
    expect(plain.agent).toBeUndefined();
  });

  it('reads nodes/<name>.yaml: its fields, its repository as --out; flags win', async () => {
    dir = mkdtempSync(join(tmpdir(), 'orun-bs-req-'));
    mkdirSync(join(dir, 'nodes'));
    const file = join(dir, 'nodes', 'edge.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: run.orcra.dev/v0alpha',
        'kind: Node',
        'metadata: {name: edge, labels: {tier: edge}}',
        'spec: {host: 10.0.0.5, gitRepo: "https://git/m.git", gitBranch: staging, sshPort: 2222}',
        '',
      ].join('\n'),
    );
    const req = await resolveRequest(file, { label: [] }, {});
    expect(req).toMatchObject({
      name: 'edge',
      host: '10.0.0.5',
      port: 2222,
      repo: 'https://git/m.git',
      branch: 'staging',
      labels: { tier: 'edge' },
      out: dir,
    });
    expect((await resolveRequest(file, { label: [], host: 'other' }, {})).host).toBe('other');
  });

  it('keeps allowedHostPaths and verifyCommits of nodes/<name>.yaml (the same Node: not refused, not rewritten); flags replace them', async () => {
    dir = mkdtempSync(join(tmpdir(), 'orun-bs-req-'));
    mkdirSync(join(dir, 'nodes'));
    const file = join(dir, 'nodes', 'edge.yaml');
    const signer =
      'ops@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0n8gGy6a4rW5z0Oa2b8bKq2pQq5J0x3yW7Z1cDe9f';
    const text = [
      'apiVersion: run.orcra.dev/v0alpha',
      'kind: Node',
      'metadata: {name: edge}',
      'spec:',
      '  host: 10.0.0.5',
      '  gitRepo: https://git/m.git',
      '  allowedHostPaths: [/srv/data]',
      `  verifyCommits: {allowedSigners: ["${signer}"]}`,
      '',
    ].join('\n');
    writeFileSync(file, text);
    const req = await resolveRequest(file, { label: [] }, {});
    expect(req).toMatchObject({ allowedHostPaths: ['/srv/data'], allowedSigners: [signer] });
    expect(sameNode(text, renderNodeManifest(req), 'nodes/edge.yaml')).toBe(true);
    const flagged = await resolveRequest(
      file,
      {
        label: [],
        allowedHostPath: ['/srv/a', '/srv/b'],
        allowedSigner: [`dev@example.com ${signer.split(' ').slice(1).join(' ')}`],
      },
      {},
    );
    expect(flagged.allowedHostPaths).toEqual(['/srv/a', '/srv/b']);
    expect(renderNodeManifest(flagged)).toContain(
      'verifyCommits:\n    allowedSigners:\n      - dev@example.com ssh-ed25519',
    );
    // Without them anywhere, the manifest has neither.
    const plain = renderNodeManifest(await resolveRequest('n', flags, {}));
    expect(plain).not.toMatch(/allowedHostPaths|verifyCommits/);
  });

  it('prompts for what no flag gave, with the documented defaults, then asks to go ahead', async () => {
    const p = scripted(['web-1', '192.0.2.1', '', '', '', 'https://git/m.git', '', '', '', 'y']);
    // --out outside any Git checkout: the gitRepo prompt has no origin to offer as a default.
    const out = mkdtempSync(join(tmpdir(), 'orun-bootstrap-out-'));
    const req = await resolveRequest(undefined, { label: [], out }, {}, p);
    rmSync(out, { recursive: true, force: true });
    expect(req).toMatchObject({ name: 'web-1', host: '192.0.2.1', user: 'root', port: 22, branch: 'main' });
    expect(p.asked).toEqual([
      'Node name (metadata.name)',
      'Host (spec.host: name or IP reached over SSH)',
      'SSH user (spec.user) [root]',
      'SSH port (spec.sshPort) [22]',
      'SSH key (spec.sshKeyPath) [~/.ssh/id_ed25519]',
      'Manifest repository (spec.gitRepo)',
      'Branch (spec.gitBranch; main is production) [main]',
      'Poll interval (spec.pollInterval) [5s]',
      'Data dir (spec.dataDir) [/opt/orun/]',
      expect.stringMatching(/^Bootstrap node web-1 at root@192\.0\.2\.1:22/),
    ]);
  });

  it('without a prompt, missing required fields are named', async () => {
    const err = await resolveRequest(undefined, { label: [] }, {}).catch((e: unknown) => e);
    expect(isOrunError(err)).toBe(true);
    expect((err as Error).message).toBe(
      'bootstrap: missing a node name or nodes/<name>.yaml, --host, --repo (give them as arguments, or run on a terminal without --yes to be asked)',
    );
  });
});

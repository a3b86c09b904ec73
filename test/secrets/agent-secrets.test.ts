/**
 * Secrets end to end against a real agent (dist/orun.js), git and dockerd: one Deployment gets a
 * value from the root secrets.yaml (secretKeyRef), one inline ENC[...] value and one secret file
 * (tmpfs, 0400), and each is right inside the container. A commit changing secrets.yaml and the
 * manifest rolls exactly that Deployment, once, to both new values. A restart while a whole-file SOPS manifest is broken prunes and restarts
 * nothing (its last good version is kept sealed on disk). Then every plaintext is searched for in
 * the agents' logs, raw API answers, orunctl describe/get, events, /metrics and every file under
 * the data dir: none is found.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptSopsDocument, openSopsFile, sealInline } from '../../runtime/sops/index.ts';
import {
  AgentProcess,
  condition,
  containerNameOf,
  deploymentYaml,
  nodeYaml,
  removeContainers,
  uniquePrefix,
  waitFor,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { freePort } from '../support/net.ts';
import { orunctl } from '../support/orunctl.ts';
import { requireAppImage, requireTestImage } from '../support/services.ts';

const prefix = uniquePrefix('sec');
const node = `${prefix}-node`;
const web = `${prefix}-web`;
const other = `${prefix}-other`;
const annotated = `${prefix}-annot`;
const pg = `${prefix}-pg`;
const P = {
  fromFile: `db-${prefix}-from-secrets-yaml`,
  changed: `db-${prefix}-changed-value`,
  inline: `inline-${prefix}-token`,
  file: `tls-${prefix}-private-key`,
  annotation: `annot-${prefix}-encrypted`,
  pg: `pg-${prefix}-password`,
};
let repo: TestGitRepo;
let dataDir: string;
let secretsDir: string;
let agent: AgentProcess;
/** Log lines of agents stopped earlier in the file (searched for plaintext too). */
const pastLines: unknown[] = [];
let agentArgs: string[];
let metricsUrl: string;
let recipient: string;
let dataKey: Buffer | undefined;
let annotatedYaml: string;
let webInline: string;
let pgOwner: { uid: string; gid: string };

/** secrets.yaml; a rotation keeps the data key, as `orun secrets edit` and `sops edit` do. */
const secretsYaml = (db: string) =>
  encryptSopsDocument(`DB_PASSWORD: ${db}\nTLS_KEY: ${P.file}\nPG_PASSWORD: ${P.pg}\n`, {
    recipients: [recipient],
    ...(dataKey === undefined ? {} : { dataKey }),
  });

const startAgent = () => new AgentProcess({ repo: repo.bare, node, dataDir, extraArgs: agentArgs });

function webYaml(inline: string, plain = 'visible'): string {
  return deploymentYaml(web).replace(
    '  health:',
    `  env:\n    FROM_FILE: {secretKeyRef: DB_PASSWORD}\n    INLINE: ${inline}\n    PLAIN: ${plain}\n  secretFiles:\n    - key: TLS_KEY\n      name: tls.key\n  health:`,
  );
}

/**
 * The ids of a Deployment's containers, from the engine (the status can lack one for a moment,
 * e.g. while a probe of a loaded machine times out; the engine says what really runs).
 */
function containerIDs(deployment: string): string[] {
  return execFileSync(
    'docker',
    ['ps', '-aq', '--no-trunc', '--filter', `label=run.orcra.dev/deployment=${deployment}`],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter(Boolean);
}

/** The real postgres, as its own user (uid/gid from the image), reading its password from a secret file. */
function pgYaml(uid: string, gid: string): string {
  return [
    'apiVersion: run.orcra.dev/v0alpha',
    'kind: Deployment',
    'metadata:',
    `  name: ${pg}`,
    'spec:',
    '  image: orun-test/postgres:1',
    '  user: postgres',
    '  command: [sh, -c]',
    '  args:',
    '    - |',
    '      set -e',
    '      B=$(ls -d /usr/lib/postgresql/*/bin | head -1)',
    '      "$B/initdb" -D /tmp/pgdata -U postgres --auth=scram-sha-256 --pwfile=/run/secrets/pg-password >/dev/null',
    '      exec "$B/postgres" -D /tmp/pgdata -k /tmp -c listen_addresses=127.0.0.1',
    '  secretFiles:',
    `    - {key: PG_PASSWORD, name: pg-password, uid: ${uid}, gid: "${gid}", mode: "0400"}`,
    '    - {key: PG_PASSWORD, name: root-only}',
    '  health:',
    '    readiness:',
    '      exec: {command: [pg_isready, -h, 127.0.0.1, -U, postgres]}',
    '',
  ].join('\n');
}

/** `printenv` is not in the busybox test image: read one variable through the shell. */
const getenv = (name: string): string =>
  `if [ -n "\${${name}+x}" ]; then echo "$${name}"; else echo absent; fi`;

function exec(container: string, cmd: string): string {
  return execFileSync('docker', ['exec', container, 'sh', '-c', cmd], { encoding: 'utf8' }).trim();
}

async function ready(name: string, since?: string): Promise<string> {
  return waitFor(
    `Deployment ${name} Ready`,
    async () => {
      const o = await agent.object('deployments', name);
      const id = o?.status?.containerID;
      return condition(o, 'Ready')?.status === 'True' && id !== undefined && id !== since ? id : undefined;
    },
    90_000,
    () => agent.dump(),
  );
}

beforeAll(async () => {
  requireTestImage();
  requireAppImage('orun-test/postgres:1');
  const ids = (flag: string): string =>
    execFileSync('docker', ['run', '--rm', '--entrypoint', 'id', 'orun-test/postgres:1', flag, 'postgres'], {
      encoding: 'utf8',
    }).trim();
  pgOwner = { uid: ids('-u'), gid: ids('-g') };
  repo = new TestGitRepo('orun-sec-');
  dataDir = mkdtempSync(join(tmpdir(), 'orun-sec-data-'));
  secretsDir = mkdtempSync('/dev/shm/orun-sec-');
  const identity = await generateX25519Identity();
  recipient = await identityToRecipient(identity);
  const keyPath = join(dataDir, 'age.key');
  writeFileSync(keyPath, `${identity}\n`, { mode: 0o600 });
  const secrets = await secretsYaml(P.fromFile);
  ({ dataKey } = await openSopsFile(secrets, [identity]));
  const inline = (webInline = sealInline(P.inline, dataKey, {
    kind: 'Deployment',
    name: web,
    path: ['spec', 'env', 'INLINE'],
  }));
  annotatedYaml = await encryptSopsDocument(
    deploymentYaml(annotated).replace(
      `  name: ${annotated}\n`,
      `  name: ${annotated}\n  annotations:\n    token: ${P.annotation}\n`,
    ),
    { recipients: [recipient], encryptedRegex: '^token$' },
  );
  repo
    .write({
      [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
      'secrets.yaml': secrets,
      [`deployments/${web}.yaml`]: webYaml(inline),
      [`deployments/${other}.yaml`]: deploymentYaml(other, { COLOR: 'blue' }),
      [`deployments/${annotated}.yaml`]: annotatedYaml,
      [`deployments/${pg}.yaml`]: pgYaml(pgOwner.uid, pgOwner.gid),
    })
    .commit('secrets three ways');
  const metrics = `127.0.0.1:${await freePort()}`;
  metricsUrl = `http://${metrics}`;
  agentArgs = ['--age-key-path', keyPath, '--metrics-address', metrics, '--secrets-dir', secretsDir];
  agent = startAgent();
  for (const n of [web, other, annotated, pg]) await ready(n);
});

afterAll(async () => {
  await agent?.stop('SIGKILL');
  removeContainers(prefix);
  repo?.cleanup();
  for (const d of [dataDir, secretsDir]) if (d !== undefined) rmSync(d, { recursive: true, force: true });
});

describe('secrets end to end', () => {
  it('each value is right inside the container: secrets.yaml env, inline env, a 0400 file from a tmpfs', () => {
    const c = containerNameOf(web) ?? '';
    expect(exec(c, getenv('FROM_FILE'))).toBe(P.fromFile);
    expect(exec(c, getenv('INLINE'))).toBe(P.inline);
    expect(exec(c, getenv('PLAIN'))).toBe('visible');
    expect(exec(c, 'cat /run/secrets/tls.key')).toBe(P.file);
    expect(exec(c, 'stat -c %a /run/secrets/tls.key')).toBe('400');
    // The file comes from the tmpfs secrets dir, read-only; TLS_KEY is not in the env.
    const mounts = JSON.parse(
      execFileSync('docker', ['inspect', '-f', '{{json .Mounts}}', c], { encoding: 'utf8' }),
    ) as {
      Source: string;
      Destination: string;
      RW: boolean;
    }[];
    expect(mounts).toContainEqual(expect.objectContaining({ Destination: '/run/secrets', RW: false }));
    expect(mounts.find((m) => m.Destination === '/run/secrets')?.Source.startsWith(secretsDir)).toBe(true);
    expect(exec(c, getenv('TLS_KEY'))).toBe('absent');
  });

  it('secretFiles uid/gid/mode: postgres, running as its own user, reads its password file; other users cannot', () => {
    const c = containerNameOf(pg) ?? '';
    const as = (user: string, cmd: string, env: string[] = []): string =>
      execFileSync('docker', ['exec', '-u', user, ...env.flatMap((e) => ['-e', e]), c, 'sh', '-c', cmd], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim();
    expect(as('root', 'stat -c "%u %g %a" /run/secrets/pg-password /run/secrets/root-only')).toBe(
      `${pgOwner.uid} ${pgOwner.gid} 400\n0 0 400`,
    );
    // initdb read the file as postgres: the server accepts that password, and only that one.
    const psql = 'psql -h 127.0.0.1 -U postgres -tAc "select 41 + 1"';
    expect(as('postgres', psql, [`PGPASSWORD=${P.pg}`])).toBe('42');
    expect(() => as('postgres', psql, ['PGPASSWORD=wrong'])).toThrow(/password authentication failed/);
    expect(() => as('postgres', 'cat /run/secrets/root-only')).toThrow(/Permission denied/);
    expect(() => as('nobody', 'cat /run/secrets/pg-password')).toThrow(/Permission denied/);
  });

  // One commit changes a secrets.yaml value and the manifest of the Deployment that uses it. The
  // Deployment rolls once, straight to both new values: no container ever holds a mix of the
  // commits (the flake of issue 11: the new secret became visible before the new manifest).
  it('a commit changing secrets.yaml and a manifest rolls that Deployment once, to both new values; the others keep theirs', async () => {
    const otherBefore = containerIDs(other);
    const annotatedBefore = containerIDs(annotated);
    const [webBefore] = containerIDs(web);
    expect([otherBefore, annotatedBefore].map((ids) => ids.length)).toEqual([1, 1]);
    const from = agent.lines.length;
    repo
      .write({
        'secrets.yaml': await secretsYaml(P.changed),
        [`deployments/${web}.yaml`]: webYaml(webInline, 'visible-2'),
      })
      .commit('rotate DB_PASSWORD; PLAIN changes too');
    const id = await waitFor(
      'web Ready on a new container',
      async () => {
        const o = await agent.object('deployments', web);
        const cid = o?.status?.containerID;
        return condition(o, 'Ready')?.status === 'True' && cid !== undefined && cid !== webBefore
          ? cid
          : undefined;
      },
      90_000,
      () => agent.dump(),
    );
    expect(exec(id, getenv('FROM_FILE'))).toBe(P.changed);
    expect(exec(id, getenv('PLAIN'))).toBe('visible-2');
    expect(exec(id, getenv('INLINE'))).toBe(P.inline);
    expect(exec(id, 'cat /run/secrets/tls.key')).toBe(P.file);
    // The old container goes after the drain; it is the only one removed: one roll, not two.
    await waitFor(
      'the old web container removed',
      () =>
        execFileSync('docker', ['ps', '-aq', '--filter', `label=run.orcra.dev/deployment=${web}`], {
          encoding: 'utf8',
        }).trim() === id.slice(0, 12),
      60_000,
      () => agent.dump(),
    );
    const removed = agent.lines.slice(from).filter((l) => l.msg === 'container removed' && l['name'] === web);
    expect(removed.map((l) => l['containerID'])).toEqual([webBefore]);
    expect(containerIDs(other)).toEqual(otherBefore);
    expect(containerIDs(annotated)).toEqual(annotatedBefore);
  });

  it('a restart while a whole-file SOPS manifest is broken prunes nothing and restarts nothing', async () => {
    const all = [web, other, annotated, pg];
    const before = new Map(all.map((n) => [n, containerIDs(n)]));
    expect([...before.values()].map((ids) => ids.length)).toEqual([1, 1, 1, 1]);
    const path = `deployments/${annotated}.yaml`;
    repo
      .write({ [path]: annotatedYaml.replace('mac: ENC[', 'mac: ENC[x') })
      .commit('break the sops manifest');
    await waitFor(
      'the broken manifest keeps its last good objects',
      () =>
        agent.lines.some(
          (l) => l.msg === 'file failed to load; keeping its last good objects' && l['file'] === path,
        ),
      60_000,
      () => agent.dump(),
    );
    // Its last good version is on disk as the ciphertext that was in Git, never as plaintext.
    const saved = JSON.parse(readFileSync(join(dataDir, 'state', 'last-good.json'), 'utf8')) as {
      files: Record<string, unknown>;
      sealed: Record<string, { text: string }>;
    };
    expect(saved.sealed[path]?.text).toBe(annotatedYaml);
    expect(saved.files[path]).toBeUndefined();

    pastLines.push(...agent.lines);
    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    agent = startAgent();
    await waitFor('the new agent applied the broken revision', () =>
      agent.lines.some((l) => l.msg === 'applied revision'),
    );
    for (const n of all) expect(await ready(n), n).toBe(before.get(n)?.[0]);
    const restored = await agent.object('deployments', annotated);
    expect(JSON.stringify(restored)).toContain('"token":{"secret":true}');
    expect(agent.lines.filter((l) => l['reason'] === 'Pruned' || String(l.msg).includes('pruned'))).toEqual(
      [],
    );
    for (const n of all) expect(containerIDs(n), n).toEqual(before.get(n));
  });

  it('no plaintext in the agent log, raw API answers, describe, events, /metrics or any file under the data dir', async () => {
    const api = [
      '/apis/run.orcra.dev/v0alpha/deployments',
      `/apis/run.orcra.dev/v0alpha/deployments/${web}`,
      `/apis/run.orcra.dev/v0alpha/deployments/${annotated}`,
      `/apis/run.orcra.dev/v0alpha/nodes/${node}`,
      '/apis/run.orcra.dev/v0alpha/events',
    ];
    const raw = await Promise.all(api.map(async (p) => JSON.stringify((await agent.get(p)) ?? null)));
    expect(raw[2]).toContain('"token":{"secret":true}');
    const env = { ORUN_SOCKET: agent.socket };
    const cli = await Promise.all(
      [
        ['describe', 'deploy', web],
        ['describe', 'deploy', annotated],
        ['get', 'deploy', '-o', 'yaml'],
        ['get', 'deploy', annotated, '-o', 'json'],
        ['describe', 'no', node],
        ['events'],
      ].map(async (args) => {
        const r = await orunctl(args, env);
        return r.stdout + r.stderr;
      }),
    );
    expect(cli[0]).toContain('DB_PASSWORD');
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && statSync(p).size < 50_000_000) files.push(p);
      }
    };
    walk(dataDir);
    const onDisk = files.map((f) => [f, readFileSync(f).toString('latin1')] as const);
    expect(files.length).toBeGreaterThan(3);
    const places: [string, string][] = [
      ['agent log', JSON.stringify([...pastLines, ...agent.lines]) + agent.stderr],
      ['raw API', raw.join('\n')],
      ['orunctl', cli.join('\n')],
      ['/metrics', metrics],
      ...onDisk.map(([f, t]): [string, string] => [`data dir file ${f}`, t]),
    ];
    for (const [what, text] of places) {
      for (const [name, value] of Object.entries(P)) {
        expect(text.includes(value), `${what} shows ${name}`).toBe(false);
      }
    }
  });
});

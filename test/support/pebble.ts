/**
 * A real ACME CA on loopback for tests (DESIGN.md §4): Debian's `pebble` plus
 * `pebble-challtestsrv` as its DNS server (every name resolves to 127.0.0.1; the challenge
 * servers of challtestsrv itself are disabled, so the HTTP-01 challenge reaches the real Caddy
 * on `httpPort`). Pebble's own HTTPS listener gets a self-signed certificate made with openssl
 * (`listenerCertFile`: what Caddy trusts via `trusted_roots_pem_files`); the root that signs the
 * certificates it issues comes from its management API (`rootFile`: what an HTTPS client trusts).
 *
 * ```ts
 * const pebble = await startPebble({ httpPort });   // httpPort = Caddy's http_port
 * acme = { ca: pebble.directoryURL, trustedRootsPemFiles: [pebble.listenerCertFile] };
 * await pebble.stop();
 * ```
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireCommand } from './services.ts';
import { freePort } from './net.ts';

export { freePort };

export interface Pebble {
  /** ACME directory, e.g. `https://127.0.0.1:41234/dir`. */
  directoryURL: string;
  /** PEM of pebble's own listener certificate: trust it to talk ACME to pebble. */
  listenerCertFile: string;
  /** PEM of the root that issued certificates chain to: trust it to verify a served certificate. */
  rootPem: string;
  rootFile: string;
  /** challtestsrv's DNS port and management API (`/add-a`, `/clear-a`, ...). */
  dnsPort: number;
  challengeManagementURL: string;
  /** Pebble's and challtestsrv's output so far, for failure messages. */
  logs(): Promise<string>;
  /** Stops both processes and removes their files. Idempotent. */
  stop(): Promise<void>;
}

export interface PebbleOptions {
  /** Where pebble sends HTTP-01 validation requests: Caddy's http_port. Required. */
  httpPort: number;
  /** Where pebble sends TLS-ALPN-01 requests: Caddy's https_port. Default: a free port (unused). */
  tlsPort?: number;
  /** Default 20 000 ms. */
  startTimeoutMs?: number;
  /**
   * The address pebble's ACME and management listeners bind, and its listener certificate names.
   * Default 127.0.0.1; a container's gateway (e.g. docker0's 172.17.0.1) lets a Caddy in a
   * container reach pebble.
   */
  listenHost?: string;
  /** What challtestsrv answers for every name (where pebble validates HTTP-01). Default 127.0.0.1. */
  defaultIPv4?: string;
}

/** Throws MissingServiceError (a failure, never a skip) unless pebble, challtestsrv and openssl exist. */
export function requirePebble(): void {
  requireCommand('pebble', 'sh', ['-c', 'command -v pebble']);
  requireCommand('pebble-challtestsrv', 'sh', ['-c', 'command -v pebble-challtestsrv']);
  requireCommand('openssl', 'openssl', ['version']);
}

/** A TCP port free on 127.0.0.1 right now. */

export async function startPebble(o: PebbleOptions): Promise<Pebble> {
  requirePebble();
  const listenHost = o.listenHost ?? '127.0.0.1';
  const dir = await mkdtemp(join(tmpdir(), 'orun-pebble-'));
  const [acmePort, mgmtPort, dnsPort, challMgmtPort, tlsPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    o.tlsPort === undefined ? freePort() : Promise.resolve(o.tlsPort),
  ]);
  const listenerCertFile = join(dir, 'listener.pem');
  const listenerKeyFile = join(dir, 'listener.key');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=pebble listener', '-addext', `subjectAltName=IP:127.0.0.1,DNS:localhost${listenHost === '127.0.0.1' ? '' : `,IP:${listenHost}`}`,
      '-keyout', listenerKeyFile, '-out', listenerCertFile,
    ], // prettier-ignore
    { stdio: 'ignore' },
  );
  const configFile = join(dir, 'pebble.json');
  await writeFile(
    configFile,
    JSON.stringify({
      pebble: {
        listenAddress: `${listenHost}:${acmePort}`,
        managementListenAddress: `${listenHost}:${mgmtPort}`,
        certificate: listenerCertFile,
        privateKey: listenerKeyFile,
        httpPort: o.httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );

  const logFile = (name: string) => join(dir, `${name}.log`);
  const children: ChildProcess[] = [];
  const launch = (name: string, cmd: string, args: string[], env: Record<string, string> = {}): void => {
    const chunks: Buffer[] = [];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const keep = (c: Buffer): void => {
      chunks.push(c);
      void writeFile(logFile(name), Buffer.concat(chunks)).catch(() => undefined);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    children.push(child);
  };
  launch('challtestsrv', 'pebble-challtestsrv', [
    '-dns01', `127.0.0.1:${dnsPort}`,
    '-defaultIPv4', o.defaultIPv4 ?? '127.0.0.1',
    '-defaultIPv6', '',
    '-http01', '',
    '-https01', '',
    '-tlsalpn01', '',
    '-management', `127.0.0.1:${challMgmtPort}`,
  ]); // prettier-ignore
  launch('pebble', 'pebble', ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`], {
    PEBBLE_VA_NOSLEEP: '1',
    // Deterministic runs: no deliberately rejected nonces, fresh authorizations every time.
    PEBBLE_WFE_NONCEREJECT: '0',
    PEBBLE_AUTHZREUSE: '0',
  });

  let stopped = false;
  const logs = async (): Promise<string> => {
    const read = (n: string) => readFile(logFile(n), 'utf8').catch(() => '');
    return `--- pebble ---\n${await read('pebble')}\n--- challtestsrv ---\n${await read('challtestsrv')}`;
  };
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(children.map((c) => stopChild(c)));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + (o.startTimeoutMs ?? 20_000);
    let rootPem: string | undefined;
    while (rootPem === undefined) {
      rootPem = await getRoot(listenHost, mgmtPort, listenerCertFile).catch(() => undefined);
      if (rootPem !== undefined) break;
      if (Date.now() > deadline || children.some((c) => c.exitCode !== null))
        throw new Error(`pebble did not start on ${listenHost}:${mgmtPort}\n${await logs()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const rootFile = join(dir, 'root.pem');
    await writeFile(rootFile, rootPem);
    return {
      directoryURL: `https://${listenHost}:${acmePort}/dir`,
      listenerCertFile,
      rootPem,
      rootFile,
      dnsPort,
      challengeManagementURL: `http://127.0.0.1:${challMgmtPort}`,
      logs,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Pebble's issuing root, from its management API (served with the listener certificate). */
async function getRoot(host: string, mgmtPort: number, listenerCertFile: string): Promise<string> {
  const ca = await readFile(listenerCertFile, 'utf8');
  return new Promise((resolve, reject) => {
    const req = https.get({ host, port: mgmtPort, path: '/roots/0', ca, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        res.statusCode === 200 && body.includes('BEGIN CERTIFICATE')
          ? resolve(body)
          : reject(new Error(`GET /roots/0: HTTP ${res.statusCode}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error('GET /roots/0: timeout')));
    req.on('error', reject);
  });
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

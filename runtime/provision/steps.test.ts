/**
 * `orun bootstrap` on the fake SSH edge: a simulated Debian node (FakeNode) that runs the
 * commands bootstrap sends. Every command must parse back with shellSplitList (so it was built
 * with shellQuote); the tests check the steps, idempotency, dry runs, prerequisites, quoting and
 * that a failing step names itself.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OrunError, isOrunError } from '../../apis/errors.ts';
import { SshErrorCode } from '../ssh/client.ts';
import type { ExecResult } from '../ssh/client.ts';
import { FakeSshConnector } from '../ssh/fake.ts';
import type { FakeSshSession } from '../ssh/fake.ts';
import { shellSplitList } from '../ssh/quote.ts';
import type { BootstrapAssets } from './assets.ts';
import { FACTS_SCRIPT, REMOTE } from './remote.ts';
import { BootstrapErrorCode } from './request.ts';
import type { BootstrapRequest } from './request.ts';
import { SERVICE_STATE_SCRIPT, STAT_DIRS_SCRIPT, STAT_FILES_SCRIPT } from './session.ts';
import { bootstrap } from './steps.ts';
import type { BootstrapResult } from './steps.ts';

interface Facts {
  os: string;
  arch: string;
  uid: number;
  systemd: boolean;
  docker: boolean;
  git: boolean;
  caddy: boolean;
  /** apt-get can install packages (a reachable mirror). */
  apt: boolean;
  sudo: boolean;
}

/** A Debian node as far as bootstrap can see it over SSH. */
class FakeNode {
  facts: Facts = {
    os: 'debian',
    arch: 'x86_64',
    uid: 0,
    systemd: true,
    docker: true,
    git: true,
    caddy: true,
    apt: true,
    sudo: false,
  };
  readonly links = new Map<string, string>();
  readonly files = new Map<string, { data: Buffer; mode: number }>();
  readonly dirs = new Map<string, number>([['/tmp', 0o1777]]);
  service = { enabled: false, active: false, restarts: 0, starts: 0 };
  /** Makes the next command for which it returns a result fail with it. */
  inject?: (argv: string[]) => ExecResult | undefined;
  /** Every argv run, sudo stripped; `sudo` records whether it was there. */
  readonly ran: { argv: string[]; sudo: boolean }[] = [];

  handler = (command: string, _stdin: Buffer | undefined, session: FakeSshSession): ExecResult => {
    let out = '';
    for (const raw of shellSplitList(command)) {
      const sudo = raw[0] === 'sudo';
      if (sudo) expect(raw.slice(0, 2)).toEqual(['sudo', '-n']);
      const argv = sudo ? raw.slice(2) : raw;
      this.ran.push({ argv, sudo });
      const injected = this.inject?.(argv);
      if (injected) return injected;
      const res = this.#run(argv, session);
      out += res.stdout;
      if (res.code !== 0) return { ...res, stdout: out };
    }
    return { code: 0, stdout: out, stderr: '' };
  };

  /** Argvs that change the node. */
  mutations(): string[][] {
    const readOnly = new Set(['sh', 'test', 'cat', 'sed', 'mktemp', 'rm', 'journalctl']);
    return this.ran
      .map((r) => r.argv)
      .filter((a) => !readOnly.has(a[0] ?? '') && !(a[0] === 'systemctl' && a[1] === 'show'));
  }

  text(path: string): string {
    return this.files.get(path)?.data.toString('utf8') ?? '';
  }

  #run(argv: string[], session: FakeSshSession): ExecResult {
    const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
    const fail = (stderr: string, code = 1): ExecResult => ({ code, stdout: '', stderr });
    const f = this.facts;
    const [cmd, ...args] = argv;
    switch (cmd) {
      case 'sh': {
        const [, , script, , ...params] = argv;
        if (script === FACTS_SCRIPT)
          return ok(
            [
              `os=${f.os}`,
              'os_like=',
              `os_name=Fake ${f.os}`,
              'kernel=Linux',
              `arch=${f.arch}`,
              `uid=${f.uid}`,
              `systemd=${f.systemd ? 'running' : 'absent'}`,
              `systemctl=${f.systemd ? '/usr/bin/systemctl' : ''}`,
              'docker_cli=',
              `docker_socket=${f.docker ? 'yes' : 'no'}`,
              `git=${f.git ? '/usr/bin/git' : ''}`,
              `caddy=${f.caddy ? '/usr/bin/caddy' : ''}`,
              `apt_get=${f.os === 'debian' ? '/usr/bin/apt-get' : ''}`,
              `orun_version=${this.files.has(REMOTE.orunBin) ? (this.text(REMOTE.orunBin).split(' ')[1] ?? '') : ''}`,
              'ssh_keygen=/usr/bin/ssh-keygen',
              'sha256sum=/usr/bin/sha256sum',
              ...(f.uid === 0 ? [] : [`sudo=${f.sudo ? 'yes' : 'no'}`]),
              '',
            ].join('\n'),
          );
        if (script === STAT_FILES_SCRIPT)
          return ok(
            params
              .map((p) => {
                const file = this.files.get(p);
                if (!file) return '-\n';
                return `${file.mode.toString(8)} ${createHash('sha256').update(file.data).digest('hex')}\n`;
              })
              .join(''),
          );
        if (script === STAT_DIRS_SCRIPT)
          return ok(params.map((d) => `${this.dirs.get(d)?.toString(8) ?? '-'}\n`).join(''));
        if (script?.startsWith('for l; do readlink'))
          return ok(params.map((l) => `${this.links.get(l) ?? '-'}\n`).join(''));
        if (script === SERVICE_STATE_SCRIPT)
          return ok(
            `${this.service.enabled ? 'enabled' : 'disabled'}\n${this.service.active ? 'active' : 'inactive'}\n`,
          );
        return fail(`fake: unknown script ${script}`, 127);
      }
      case 'mktemp':
        this.dirs.set('/tmp/orun-bootstrap.fake', 0o700);
        return ok('/tmp/orun-bootstrap.fake\n');
      case 'install': {
        if (args[0] === '-d') {
          this.dirs.set(args[4] ?? '', Number.parseInt(args[2] ?? '', 8));
          return ok();
        }
        expect(args.slice(0, 2)).toEqual(['-D', '-m']);
        const [, , mode, dashes, src = '', dst = ''] = args;
        expect(dashes).toBe('--');
        const staged = session.files.get(src);
        if (!staged) return fail(`install: cannot stat '${src}'`);
        this.files.set(dst, { data: staged.data, mode: Number.parseInt(mode ?? '', 8) });
        return ok();
      }
      case 'mv': {
        const [, , src = '', dst = ''] = args;
        const file = this.files.get(src);
        if (!file) return fail(`mv: cannot stat '${src}'`);
        this.files.delete(src);
        this.files.set(dst, file);
        return ok();
      }
      case 'rm': {
        const paths = args.slice(args.indexOf('--') + 1);
        for (const p of paths) {
          for (const k of [...this.files.keys()]) if (k === p || k.startsWith(`${p}/`)) this.files.delete(k);
          for (const k of [...this.dirs.keys()]) if (k === p || k.startsWith(p)) this.dirs.delete(k);
        }
        return ok();
      }
      case 'cp': {
        const [, , src = '', dst = ''] = args;
        const file = this.files.get(src);
        if (!file) return fail(`cp: cannot stat '${src}'`);
        this.files.set(dst, { ...file });
        return ok();
      }
      case 'ln':
        this.links.set(args[2] ?? '', args[1] ?? '');
        return ok();
      case 'sed': {
        const m = /^# public key: (\S+)/m.exec(this.text(args[2] ?? ''));
        return ok(m ? `${m[1]}\n` : '');
      }
      case 'test':
        return this.files.has(args[1] ?? '') ? ok() : fail('');
      case 'cat': {
        const file = this.files.get(args[1] ?? '');
        return file ? ok(file.data.toString('utf8')) : fail(`cat: ${args[1]}: No such file`);
      }
      case 'ssh-keygen': {
        const key = args[args.indexOf('-f') + 1] ?? '';
        const comment = args[args.indexOf('-C') + 1] ?? '';
        this.files.set(key, { data: Buffer.from('PRIVATE'), mode: 0o600 });
        this.files.set(`${key}.pub`, { data: Buffer.from(`ssh-ed25519 AAAAfake ${comment}\n`), mode: 0o644 });
        return ok();
      }
      case 'systemctl': {
        const [verb, ...rest] = args;
        if (!f.systemd) return fail('System has not been booted with systemd');
        if (verb === 'daemon-reload') return ok();
        if (verb === 'enable' && rest[0] === '--now') return ok();
        if (verb === 'disable') {
          if (rest[0] === REMOTE.service) this.service.enabled = false;
          return ok();
        }
        if (verb === 'stop') {
          this.service.active = false;
          return ok();
        }
        if (verb === 'enable') this.service.enabled = true;
        else if (verb === 'start' || verb === 'restart') {
          this.service.active = true;
          this.service.starts++;
        } else if (verb === 'show') {
          expect(rest).toContain(REMOTE.service);
          return ok(
            `NRestarts=${this.service.restarts}\nActiveState=${this.service.active ? 'active' : 'failed'}\n`,
          );
        } else return fail(`fake systemctl: ${verb}`);
        return ok();
      }
      case 'sysctl':
        return ok();
      case 'journalctl':
        return ok('agent: boom\n');
      case 'env': {
        if (args.includes('docker.io')) return ok();
        if (!f.apt) return fail('E: Unable to locate package caddy', 100);
        if (args.includes('install')) Object.assign(f, { git: true, caddy: true });
        return ok();
      }
      default:
        return fail(`fake: ${cmd}: command not found`, 127);
    }
  }
}

let dir: string;
let assets: BootstrapAssets;
let node: FakeNode;
let logs: string[];
let printed: string[];
let connector: FakeSshConnector;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'orun-bootstrap-unit-'));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const exe = file('orun-linux-x64', 'ELF 1.2.3 orun');
  assets = {
    unit: '[Service]\nExecStart=/usr/local/bin/orun start\n',
    executable: (arch) => (arch === 'x64' ? { path: exe, version: '1.2.3' } : undefined),
  };
  node = new FakeNode();
  connector = new FakeSshConnector({ handler: node.handler });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function request(over: Partial<BootstrapRequest> = {}): BootstrapRequest {
  return {
    name: 'web-1',
    host: '203.0.113.7',
    user: 'root',
    port: 22,
    identity: '~/.ssh/id_ed25519',
    knownHosts: join(dir, 'known_hosts'),
    repo: 'https://git.example/manifests.git',
    branch: 'main',
    pollInterval: '5s',
    dataDir: '/opt/orun/',
    labels: {},
    out: join(dir, 'repo'),
    dryRun: false,
    force: false,
    installDocker: false,
    syncTimeoutMs: 0,
    ...over,
  };
}

async function run(over: Partial<BootstrapRequest> = {}): Promise<BootstrapResult> {
  logs = [];
  printed = [];
  return bootstrap(request(over), {
    connector,
    assets,
    log: (l) => logs.push(l),
    print: (t) => printed.push(t),
    settleMs: 0,
  });
}

async function failure(over: Partial<BootstrapRequest> = {}): Promise<OrunError> {
  const err = await run(over).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OrunError);
  return err as OrunError;
}

const STEPS = [
  'connect',
  'check remote',
  'install docker',
  'install packages',
  'install orun',
  'create data dir',
  'deploy key',
  'age key',
  'write environment',
  'install unit',
  'kernel settings',
  'start service',
  'first sync',
  'write manifest',
];

describe('orun bootstrap (fake node)', () => {
  it('provisions a fresh node in named steps and writes the manifest', async () => {
    const result = await run();
    expect(logs.map((l) => l.slice(0, l.indexOf(':', 11)).replace('bootstrap: ', ''))).toEqual([
      ...STEPS,
      'node web-1 (root@203.0.113.7',
    ]);
    expect(logs.at(-1)).toBe(
      `bootstrap: node web-1 (root@203.0.113.7:22) bootstrapped: ${result.changes.length} changes; orun installed 1.2.3`,
    );
    expect(node.text(REMOTE.orunBin)).toBe('ELF 1.2.3 orun');
    expect(node.files.get(REMOTE.orunBin)?.mode).toBe(0o755);
    expect([...node.links]).toEqual([
      ['/usr/local/bin/orunctl', 'orun'],
      ['/usr/local/bin/orch', 'orun'],
    ]);
    // Only what the agent needs to find its repository and keys: no branch, no poll interval.
    expect(node.text(REMOTE.environment)).toBe(
      '# Written by `orun bootstrap web-1`; re-run it to change. Read by orun.service (orun start).\n' +
        'ORUN_NODE=web-1\nORUN_REPO=https://git.example/manifests.git\nORUN_DATA_DIR=/opt/orun/\n',
    );
    expect(node.files.get(REMOTE.environment)?.mode).toBe(0o600);
    expect(node.text(REMOTE.unit)).toBe(assets.unit);
    expect(node.text('/opt/orun/keys/age.key')).toMatch(
      /^# created: .*\n# public key: age1\w+\nAGE-SECRET-KEY-1\w+\n$/,
    );
    expect(node.files.get('/opt/orun/keys/age.key')?.mode).toBe(0o600);
    expect(printed.join('')).toMatch(/Age key of node web-1: add this recipient to \.sops\.yaml:\nage1\w+\n/);
    expect(node.dirs.get('/opt/orun/')).toBe(0o755);
    expect(node.dirs.get('/opt/orun/keys')).toBe(0o700);
    expect(node.service).toMatchObject({ enabled: true, active: true, starts: 1 });
    // Mutations in order: uploads are installed beside the target then renamed over it.
    expect(node.mutations().map((a) => a.slice(0, 2).join(' '))).toEqual([
      'install -D', 'mv -f', 'ln -sfn', 'ln -sfn', // orun and its links
      'install -d', 'install -d', // data dir, keys
      'install -D', 'mv -f', // age key
      'install -D', 'mv -f', // environment
      'install -D', 'mv -f', // unit
      'install -D', 'mv -f', 'sysctl -q', // kernel settings
      'systemctl daemon-reload', 'systemctl enable', 'systemctl start',
    ]); // prettier-ignore
    expect(readFileSync(result.manifest, 'utf8')).toContain('kind: Node\nmetadata:\n  name: web-1\n');
    expect(result.manifest).toBe(join(dir, 'repo', 'nodes', 'web-1.yaml'));
  });

  it('a second run changes nothing, says so, and runs only read-only commands', async () => {
    await run();
    const before = node.ran.length;
    const result = await run();
    expect(result.changes).toEqual([]);
    expect(logs.at(-1)).toBe(
      'bootstrap: node web-1 (root@203.0.113.7:22) is up to date: nothing changed; orun unchanged 1.2.3',
    );
    expect(logs).toContain('bootstrap: install orun: ok (unchanged 1.2.3)');
    expect(logs.slice(1, -1).every((l) => / ok( |$)/.test(l))).toBe(true);
    const second = node.ran.slice(before).map((r) => r.argv[0]);
    expect(second.every((c) => ['sh', 'test', 'sed'].includes(c ?? ''))).toBe(true);
    expect(node.service.starts).toBe(1);
  });

  it('repairs drift only, then restarts the service', async () => {
    await run();
    node.files.set(REMOTE.environment, { data: Buffer.from('ORUN_NODE=evil\n'), mode: 0o644 });
    const result = await run();
    expect(result.changes).toEqual([
      { step: 'write environment', change: `update ${REMOTE.environment}` },
      { step: 'start service', change: 'systemctl restart orun (its files changed)' },
    ]);
    expect(node.files.get(REMOTE.environment)?.mode).toBe(0o600);
    expect(node.service.starts).toBe(2);
  });

  it('writes net.ipv4.tcp_migrate_req = 1 to /etc/sysctl.d and applies it; where /proc/sys is read-only the file waits for the next boot', async () => {
    node.inject = (argv) =>
      argv[0] === 'sysctl'
        ? {
            code: 255,
            stdout: '',
            stderr: 'sysctl: setting key "net.ipv4.tcp_migrate_req": Read-only file system\n',
          }
        : undefined;
    const result = await run();
    expect(node.text(REMOTE.sysctl)).toMatch(/^net\.ipv4\.tcp_migrate_req = 1$/m);
    expect(node.files.get(REMOTE.sysctl)?.mode).toBe(0o644);
    expect(node.ran.find((r) => r.argv[0] === 'sysctl')?.argv).toEqual([
      'sysctl',
      '-q',
      '-e',
      '-p',
      REMOTE.sysctl,
    ]);
    expect(result.changes.filter((c) => c.step === 'kernel settings').map((c) => c.change)).toEqual([
      `write ${REMOTE.sysctl}`,
      `sysctl -p ${REMOTE.sysctl}`,
    ]);
    expect(logs).toContain(
      `bootstrap: kernel settings: write ${REMOTE.sysctl}; sysctl -p ${REMOTE.sysctl} (not applied now (sysctl: setting key "net.ipv4.tcp_migrate_req": Read-only file system); it applies at the next boot)`,
    );
    node.inject = undefined;
    await run();
    expect(logs).toContain('bootstrap: kernel settings: ok (net.ipv4.tcp_migrate_req = 1)');
  });

  it('a dry run on a fresh node plans every change and changes nothing', async () => {
    const result = await run({ dryRun: true });
    expect(node.mutations()).toEqual([]);
    expect(node.files.size).toBe(0);
    expect(result.changes.length).toBeGreaterThan(8);
    expect(logs).toContain('bootstrap: install unit: would write /etc/systemd/system/orun.service');
    expect(logs.at(-1)).toMatch(/^bootstrap: dry run for node web-1 .*: \d+ changes planned, nothing done$/);
    expect(printed.join('')).toContain('# nodes/web-1.yaml\n');
    expect(() => readFileSync(result.manifest)).toThrow();
  });

  it('reports every missing prerequisite at once and changes nothing', async () => {
    node.facts = { ...node.facts, systemd: false, docker: false, uid: 1000, sudo: false };
    const err = await failure({ user: 'deploy' });
    expect(err.code).toBe(BootstrapErrorCode.Prerequisites);
    expect(err.message).toMatch(
      /^bootstrap: check remote: deploy@203\.0\.113\.7:22 \(Fake debian, x86_64, sudo\) lacks/,
    );
    expect(err.message).toContain('systemd as the init system');
    expect(err.message).toContain('re-run with --install-docker');
    expect(err.message).toContain('passwordless sudo');
    expect(node.mutations()).toEqual([]);
  });

  it('a dry run lists missing prerequisites and still plans', async () => {
    node.facts.systemd = false;
    const result = await run({ dryRun: true });
    expect(result.problems).toHaveLength(1);
    expect(logs).toContain(
      'bootstrap: check remote: would fail: the node lacks:\n  - systemd as the init system (/run/systemd/system is missing): orun runs as a systemd service',
    );
    expect(logs).toContain('bootstrap: start service: ok (skipped: no systemd)');
  });

  it('installs Docker on Debian with --install-docker', async () => {
    node.facts.docker = false;
    await run({ installDocker: true });
    const apt = node.ran.filter((r) => r.argv[0] === 'env').map((r) => r.argv.join(' '));
    expect(apt).toEqual([
      'env DEBIAN_FRONTEND=noninteractive apt-get update -qq',
      'env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io',
    ]);
  });

  it('runs privileged commands through sudo -n for a non-root user', async () => {
    node.facts = { ...node.facts, uid: 1000, sudo: true };
    await run({ user: 'deploy' });
    const bySudo = node.ran.filter((r) => r.sudo).map((r) => r.argv[0]);
    expect(bySudo).toEqual(expect.arrayContaining(['install', 'mv', 'systemctl']));
    // Staging is the login user's own: mktemp and rm never use sudo.
    expect(node.ran.filter((r) => ['mktemp', 'rm'].includes(r.argv[0] ?? '')).every((r) => !r.sudo)).toBe(
      true,
    );
  });

  it('a newer build upgrades: restarts orun only, says upgraded A → B', async () => {
    await run();
    const exe = join(dir, 'orun-linux-x64-new');
    writeFileSync(exe, 'ELF 1.2.4 orun');
    assets = { ...assets, executable: () => ({ path: exe, version: '1.2.4' }) };
    const result = await run();
    expect(result.changes).toEqual([
      { step: 'install orun', change: `update ${REMOTE.orunBin}` },
      { step: 'start service', change: 'systemctl restart orun (its files changed)' },
    ]);
    expect(result.upgrade).toEqual({ from: '1.2.3', to: '1.2.4', changed: true });
    expect(logs.at(-1)).toMatch(/bootstrapped: 2 changes; orun upgraded 1\.2\.3 → 1\.2\.4$/);
    expect(node.mutations().filter((a) => a[0] === 'systemctl').map((a) => a[1])).toEqual([
      'daemon-reload', 'enable', 'start', 'restart',
    ]); // prettier-ignore
  });

  it("installs git and Caddy with apt-get and disables Debian's caddy.service", async () => {
    Object.assign(node.facts, { git: false, caddy: false });
    const result = await run();
    expect(result.changes.filter((c) => c.step === 'install packages').map((c) => c.change)).toEqual([
      'apt-get install git caddy',
      'systemctl disable --now caddy (orun runs its own Caddy)',
    ]);
  });

  it('apt-get that cannot install Caddy fails install packages, before orun is installed', async () => {
    Object.assign(node.facts, { caddy: false, apt: false });
    const err = await failure();
    expect(err.message).toMatch(
      /^bootstrap: install packages: apt-get could not install caddy \(exit 100\); make them installable .*\nE: Unable to locate package caddy$/,
    );
    expect(node.files.has(REMOTE.orunBin)).toBe(false);
  });

  it('a node that is not Debian and lacks git and Caddy gets the list, nothing else', async () => {
    Object.assign(node.facts, { os: 'alpine', git: false, caddy: false });
    const err = await failure();
    expect(err.code).toBe(BootstrapErrorCode.Prerequisites);
    expect(err.message).toContain(
      '  - git (the agent clones and polls the manifest repository): install it; bootstrap installs it with apt-get only on Debian and Ubuntu, this is Fake alpine\n',
    );
    expect(err.message).toContain('  - caddy (');
    expect(node.mutations()).toEqual([]);
  });

  it("no single executable for the node's architecture is a clear prerequisite error", async () => {
    node.facts.arch = 'aarch64';
    const err = await failure();
    expect(err.message).toBe(
      'bootstrap: install orun: no single executable for aarch64 (linux-arm64): build it with `ORUN_DIST_ARCH=arm64 npm run dist` (on any Linux machine)',
    );
    node.facts.arch = 'riscv64';
    expect((await failure()).message).toBe(
      'bootstrap: install orun: no single executable for riscv64: orun builds linux-x64 and linux-arm64 only',
    );
  });

  it('makes a deploy key for an ssh repository, prints it, and points the agent at it', async () => {
    const result = await run({ repo: 'git@github.com:acme/manifests.git' });
    expect(result.deployKey).toBe('ssh-ed25519 AAAAfake orun@web-1');
    expect(printed.join('')).toContain(
      'add it to git@github.com:acme/manifests.git as a read-only deploy key:\nssh-ed25519 AAAAfake orun@web-1\n',
    );
    expect(node.text(REMOTE.environment)).toContain('ORUN_SSH_KEY_PATH=/opt/orun/keys/deploy_key\n');
    const again = await run({ repo: 'git@github.com:acme/manifests.git' });
    expect(again.changes).toEqual([]);
    expect(node.ran.filter((r) => r.argv[0] === 'ssh-keygen')).toHaveLength(1);
  });

  it('quotes hostile values: every command parses back, the environment file holds them verbatim', async () => {
    const repo = "https://x/'; rm -rf / #$(id)`id`";
    await run({ repo, dataDir: "/opt/o run/$HOME'/", branch: 'feature/x' });
    expect(node.text(REMOTE.environment)).toContain(
      `ORUN_REPO='https://x/'\\''; rm -rf / #$(id)\`id\`'\nORUN_DATA_DIR='/opt/o run/$HOME'\\''/'\n`,
    );
    expect(node.dirs.has("/opt/o run/$HOME'/")).toBe(true);
    expect(node.dirs.has("/opt/o run/$HOME'/keys")).toBe(true);
  });

  it.each([
    ['install orun', (a: string[]) => a[0] === 'mv' && a[4] === REMOTE.orunBin],
    ['create data dir', (a: string[]) => a[0] === 'install' && a[1] === '-d'],
    ['write environment', (a: string[]) => a[0] === 'mv' && a[4] === REMOTE.environment],
    ['install unit', (a: string[]) => a[0] === 'mv' && a[4] === REMOTE.unit],
    ['start service', (a: string[]) => a[0] === 'systemctl' && a[1] === 'start'],
  ])('a failure in %s names the step and keeps the cause', async (step, match) => {
    node.inject = (argv) =>
      match(argv) ? { code: 1, stdout: '', stderr: 'No space left on device' } : undefined;
    const err = await failure();
    expect(err.code).toBe(BootstrapErrorCode.StepFailed);
    expect(err.message).toMatch(new RegExp(`^bootstrap: ${step}: \`.*\` exited 1: No space left on device$`));
    expect(isOrunError(err.cause, BootstrapErrorCode.RemoteCommandFailed)).toBe(true);
    expect(err.context).toMatchObject({ step, target: 'root@203.0.113.7:22' });
    expect(() => readFileSync(join(dir, 'repo', 'nodes', 'web-1.yaml'))).toThrow();
    // Taken back: nothing of this run is left on the node.
    expect([...node.files.keys()].filter((k) => !k.startsWith('/tmp/'))).toEqual([]);
    expect(node.service).toMatchObject({ enabled: false, active: false });
  });

  it('a service that does not stay up fails start service with its journal', async () => {
    node.service.restarts = 3;
    const err = await failure();
    expect(err.message).toMatch(
      /^bootstrap: start service: orun did not stay up \(state active, 3 restarts\); its last log lines:\nagent: boom$/,
    );
  });

  it('a refused connection fails the connect step and writes nothing', async () => {
    connector = new FakeSshConnector({
      handler: node.handler,
      connectError: new OrunError(
        SshErrorCode.HostKeyChanged,
        'ssh: connect root@203.0.113.7:22: REMOTE HOST KEY CHANGED',
      ),
    });
    const err = await failure();
    expect(err.message).toBe('bootstrap: connect: ssh: connect root@203.0.113.7:22: REMOTE HOST KEY CHANGED');
    expect(isOrunError(err.cause, SshErrorCode.HostKeyChanged)).toBe(true);
  });

  it('refuses a different existing manifest without --force before connecting; --force overwrites', async () => {
    await run();
    const targets = connector.targets.length;
    const err = await failure({ branch: 'staging' });
    expect(err.code).toBe(BootstrapErrorCode.ManifestExists);
    expect(connector.targets.length).toBe(targets);
    const forced = await run({ branch: 'staging', force: true });
    // The branch lives in the manifest only: the node itself has nothing to change.
    expect(forced.changes.map((c) => c.step)).toEqual(['write manifest']);
    expect(readFileSync(forced.manifest, 'utf8')).toContain('gitBranch: staging');
  });

  it.each([
    ['a name that is no DNS label', { name: 'Web_1' }, /metadata\.name/],
    ['a relative data dir', { dataDir: 'opt/orun' }, /spec\.dataDir/],
    ['a bad poll interval', { pollInterval: 'often' }, /spec\.pollInterval/],
    ['a bad label', { labels: { 'bad key!': 'x' } }, /metadata\.labels/],
  ])('rejects %s before connecting', async (_, over, field) => {
    const err = await failure(over);
    expect(err.code).toBe(BootstrapErrorCode.InvalidRequest);
    expect(err.message).toMatch(field);
    expect(connector.targets).toEqual([]);
  });
});

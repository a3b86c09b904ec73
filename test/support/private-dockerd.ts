/**
 * A private dockerd for chaos tests, so a test can stop and start "the engine" without touching
 * the machine's shared one: its own --data-root, --exec-root (hence its own containerd), unix
 * socket, pidfile and bridge (created here with its own address, never `--bridge=none`, which
 * deletes the host's docker0), its own address pool for user networks, no iptables rules (the
 * shared engine owns those chains), and --live-restore so containers outlive a dockerd restart as
 * they do on a production node.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './agent.ts';

export class PrivateDockerd {
  readonly dir: string;
  readonly socket: string;
  /** `unix://…`, for DOCKER_HOST. */
  readonly host: string;
  readonly bridge: string;
  readonly #subnet: number;
  #proc: ChildProcess | undefined;
  #log = '';

  /** `tag` names the bridge (≤ 8 chars); `subnet` picks 10.250.<subnet>.0/24 and 10.251.<subnet>.0/24. */
  constructor(tag: string, subnet = 1 + Math.floor(Math.random() * 250)) {
    this.dir = mkdtempSync(join(tmpdir(), `orun-dockerd-${tag}-`));
    this.socket = join(this.dir, 'docker.sock');
    this.host = `unix://${this.socket}`;
    this.bridge = `orun${tag}${subnet}`.slice(0, 15);
    this.#subnet = subnet;
    execFileSync('ip', ['link', 'add', 'name', this.bridge, 'type', 'bridge']);
    execFileSync('ip', ['addr', 'add', `10.250.${subnet}.1/24`, 'dev', this.bridge]);
    execFileSync('ip', ['link', 'set', this.bridge, 'up']);
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** Starts dockerd and waits until it answers. */
  async start(): Promise<void> {
    const args = [
      '--data-root',
      join(this.dir, 'root'),
      '--exec-root',
      join(this.dir, 'exec'),
      '-H',
      this.host,
      '--pidfile',
      join(this.dir, 'docker.pid'),
      '--bridge',
      this.bridge,
      '--iptables=false',
      '--ip-masq=false',
      '--live-restore',
      '--default-address-pool',
      `base=10.251.${this.#subnet}.0/24,size=28`,
    ];
    const proc = spawn('dockerd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#proc = proc;
    const keep = (c: Buffer): void => {
      this.#log = (this.#log + c.toString('utf8')).slice(-20_000);
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    await waitFor(
      'the private dockerd answers',
      () => this.answers(),
      60_000,
      () => this.#log.slice(-3000),
    );
  }

  /** Stops dockerd (SIGTERM; with --live-restore its containers keep running) and waits for it. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.#proc;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((res) => proc.once('exit', () => res()));
    proc.kill(signal);
    await exited;
    this.#proc = undefined;
  }

  answers(): boolean {
    try {
      this.docker(['version', '--format', '{{.Server.Version}}']);
      return true;
    } catch {
      return false;
    }
  }

  /** Runs the docker CLI against this engine. */
  docker(args: string[], input?: Buffer): string {
    return execFileSync('docker', ['-H', this.host, ...args], {
      encoding: 'utf8',
      ...(input === undefined ? {} : { input }),
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
  }

  /** Copies an image from the shared engine (there is no registry). */
  loadImage(ref: string): void {
    const tar = execFileSync('docker', ['save', ref], { maxBuffer: 1 << 30 });
    this.docker(['load', '-q'], tar);
  }

  logTail(n = 3000): string {
    return this.#log.slice(-n);
  }

  /**
   * Removes everything: containers, the engine, its mounts, the bridge and the directory. Safe to
   * call twice.
   */
  async destroy(): Promise<void> {
    if (this.#proc === undefined && existsSync(this.socket) === false && !existsSync(this.dir)) return;
    if (this.#proc === undefined && !this.answers() && existsSync(this.dir)) {
      // stopped by the test: start it once more so its containers are removed cleanly
      await this.start().catch(() => undefined);
    }
    try {
      const ids = this.docker(['ps', '-aq']).split('\n').filter(Boolean);
      if (ids.length > 0) this.docker(['rm', '-f', ...ids]);
    } catch {
      // the engine is gone: its shims are killed below
    }
    await this.stop();
    this.#killShims();
    for (const m of readFileSync('/proc/mounts', 'utf8').split('\n').reverse()) {
      const target = m.split(' ')[1];
      if (target?.startsWith(this.dir)) {
        try {
          execFileSync('umount', ['-l', target]);
        } catch {
          // already gone
        }
      }
    }
    try {
      execFileSync('ip', ['link', 'del', this.bridge]);
    } catch {
      // already gone
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** containerd shims of this engine (matched by its exec-root in their command line). */
  #killShims(): void {
    const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
    for (const line of out.split('\n')) {
      const m = /^\s*(\d+)\s+(.*)$/.exec(line);
      if (m && m[2]!.includes(join(this.dir, 'exec'))) {
        try {
          process.kill(Number(m[1]), 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }
    }
  }
}

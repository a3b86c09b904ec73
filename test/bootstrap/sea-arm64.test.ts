/**
 * The arm64 single executable, built on this x64 machine (`ORUN_DIST_ARCH=arm64 npm run dist`:
 * Node.js for arm64 from npm, a blob without code cache) and run under qemu user mode (Debian's
 * qemu-user-static) with an arm64 sysroot (hack/arm64-sysroot.sh): `orun --version`, `orunctl
 * version --client` and `orch validate` answer as on x64. Prerequisites missing: a failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  closeSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MissingServiceError, requireCommand } from '../support/services.ts';
import { ROOT } from './support.ts';

const SYSROOT = process.env.ORUN_ARM64_SYSROOT ?? '/var/cache/orun-test/arm64-sysroot';
let dir: string;
let exe: string;

/** The executable under qemu: its exit code and output (stdout, then stderr). */
function qemu(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync('qemu-aarch64-static', ['-L', SYSROOT, exe, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

beforeAll(() => {
  requireCommand('qemu-aarch64-static (Debian: qemu-user-static)', 'qemu-aarch64-static', ['-version']);
  if (!existsSync(join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1')))
    throw new MissingServiceError(`an arm64 sysroot in ${SYSROOT}`, 'run: bash hack/arm64-sysroot.sh');
  dir = mkdtempSync(join(tmpdir(), 'orun-arm64-'));
  execFileSync(process.execPath, [join(ROOT, 'hack', 'dist.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      ORUN_DIST_DIR: dir,
      ORUN_DIST_ARCH: 'arm64',
      ORUN_BUILD_VERSION: '0.1.0-e2e-arm64',
    },
  });
  exe = join(dir, 'orun-linux-arm64');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the arm64 single executable under qemu', () => {
  it('is an aarch64 ELF with its version beside it', () => {
    const head = Buffer.alloc(20);
    const fd = openSync(exe, 'r');
    readSync(fd, head, 0, 20, 0);
    closeSync(fd);
    expect(head.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(head.readUInt16LE(18)).toBe(0xb7); // e_machine: EM_AARCH64
    expect(readFileSync(`${exe}.version`, 'utf8')).toBe('0.1.0-e2e-arm64\n');
  });

  it('runs orun, orunctl and orch', () => {
    expect(qemu('--version')).toEqual({ code: 0, out: '0.1.0-e2e-arm64\n' });
    expect(qemu('orunctl', 'version', '--client')).toEqual({
      code: 0,
      out: 'Client Version: 0.1.0-e2e-arm64\n',
    });
    const orchfile = join(dir, 'Orchfile');
    writeFileSync(orchfile, 'SERVICE web\nFROM nginx\nPUBLISH 8080:80\n');
    expect(qemu('orch', 'validate', orchfile)).toEqual({ code: 0, out: 'valid\n' });
    // A broken Orchfile: the same file:line:col error as on x64.
    writeFileSync(orchfile, 'SERVICE web\nFROM nginx\nPUBLISH nope\n');
    const bad = qemu('orch', 'validate', orchfile);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toContain(`${orchfile}:3:`);
  }, 300_000); // emulated: each start takes seconds, more on a loaded machine
});

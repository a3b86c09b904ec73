/**
 * Bootstrap refuses, clearly and before changing anything, on real hosts: a systemd node
 * container that does not authorize the key (authentication refused: the error names user, host,
 * port and key) or whose host key is not the one known_hosts remembers, and a container whose PID 1 is sshd, not systemd (check remote lists systemd as
 * missing, before any install step). In both, nothing of orun is on the node and no manifest is
 * written on this host.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keygen } from '../support/sshd.ts';
import { orun, startNode, startSshOnlyNode, type NodeContainer } from './support.ts';

let root: string;
let key: string;
let stranger: string;

const ORUN_PATHS = [
  '/usr/local/bin/orun',
  '/etc/default/orun',
  '/etc/systemd/system/orun.service',
  '/opt/orun',
];

async function expectNothingOfOrun(node: NodeContainer): Promise<void> {
  for (const path of ORUN_PATHS) expect((await node.status('test', '-e', path)).code, path).not.toBe(0);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'orun-bs-refuse-'));
  key = join(root, 'id_ed25519');
  stranger = join(root, 'stranger_ed25519');
  keygen(key, 'orun-bootstrap-refusals');
  keygen(stranger, 'orun-bootstrap-stranger');
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('orun bootstrap refuses before changing anything', () => {
  describe('on a systemd node', () => {
    let node: NodeContainer;
    beforeAll(async () => {
      node = await startNode({ authorizedKey: readFileSync(`${key}.pub`, 'utf8').trim() });
    });
    afterAll(async () => {
      await node?.remove();
    });

    it('a key the node does not authorize: authentication refused, naming user, host, port and key', async () => {
      const out = join(root, 'repo-key');
      const r = await orun([
        'bootstrap', 'wrong-key-1', '--host', node.ip, '--identity', stranger,
        '--known-hosts', join(root, 'kh-key'), '--repo', 'file:///srv/none.git', '--out', out, '--yes',
      ]); // prettier-ignore
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `orun: bootstrap: connect: ssh: connect root@${node.ip}:22: authentication refused (tried key ${stranger})`,
      );
      expect(r.stderr).not.toMatch(/PRIVATE KEY/);
      expect(r.stderr).not.toMatch(/^bootstrap: check remote/m);
      await expectNothingOfOrun(node);
      expect(existsSync(out)).toBe(false);
    });

    it('a host key other than the one known: refused as changed, known_hosts kept as it was', async () => {
      const kh = join(root, 'kh-changed');
      // What known_hosts remembers for the node: another key (as after a reinstall, or an impostor).
      const [type, b64] = readFileSync(`${stranger}.pub`, 'utf8').split(' ');
      const remembered = `${node.ip} ${type} ${b64}\n`;
      writeFileSync(kh, remembered);
      const out = join(root, 'repo-changed');
      const r = await orun([
        'bootstrap', 'changed-1', '--host', node.ip, '--identity', key,
        '--known-hosts', kh, '--repo', 'file:///srv/none.git', '--out', out, '--yes',
      ]); // prettier-ignore
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `orun: bootstrap: connect: ssh: connect root@${node.ip}:22: REMOTE HOST KEY CHANGED for ${node.ip}: it presented `,
      );
      expect(r.stderr).toContain(kh);
      expect(readFileSync(kh, 'utf8')).toBe(remembered);
      await expectNothingOfOrun(node);
      expect(existsSync(out)).toBe(false);
    });
  });

  it('a host without systemd as PID 1: check remote lists it; no install step runs', async () => {
    const node = await startSshOnlyNode(readFileSync(`${key}.pub`, 'utf8').trim());
    try {
      expect((await node.exec('sh', '-c', 'test -d /run/systemd/system || echo absent')).trim()).toBe(
        'absent',
      );
      const out = join(root, 'repo-nosd');
      const r = await orun([
        'bootstrap', 'no-systemd-1', '--host', node.ip, '--identity', key,
        '--known-hosts', join(root, 'kh-nosd'), '--repo', 'file:///srv/none.git', '--out', out,
        '--install-docker', '--yes',
      ]); // prettier-ignore
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^bootstrap: connect: ok \(root@/m);
      const arch = (await node.exec('uname', '-m')).trim();
      expect(r.stderr).toContain(
        `orun: bootstrap: check remote: root@${node.ip}:22 (Debian GNU/Linux 12 (bookworm), ${arch}, root) ` +
          'lacks what orun needs; nothing was changed:\n' +
          '  - systemd as the init system (/run/systemd/system is missing): orun runs as a systemd service\n',
      );
      // --install-docker was asked, and Docker is missing: still nothing was installed.
      expect(r.stderr).not.toMatch(/^bootstrap: install (docker|packages)/m);
      expect((await node.status('sh', '-c', 'command -v docker || command -v caddy')).code).not.toBe(0);
      await expectNothingOfOrun(node);
      expect(existsSync(out)).toBe(false);
    } finally {
      await node.remove();
    }
  });
});

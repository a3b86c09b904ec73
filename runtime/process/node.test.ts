import { describe, expect, it, vi } from 'vitest';
import { NodeProcessRunner } from './node.ts';
import { describeProcessContract } from './runner.contract.ts';

describeProcessContract('node:child_process', () => ({
  runner: new NodeProcessRunner(),
  sleeper: 'sleep 300',
  stubborn: "trap '' TERM; echo ready; sleep 300 & wait; sleep 300",
  exiter: (code) => `exit ${code}`,
  printer: (lines) => `printf '%s\\n' ${lines.map((l) => `'${l}'`).join(' ')}`,
}));

describe('NodeProcessRunner', () => {
  const runner = new NodeProcessRunner();

  it('signals the whole process group, grandchildren included', async () => {
    const p = await runner.spawn({ name: 'g', command: 'sleep 300 & sleep 300 & wait', stdout: 'ignore' });
    expect(runner.signalGroup(p.pid, 'SIGTERM')).toBe(true);
    await p.exited;
    // The group's last member may outlive the leader's exit by a moment: wait for it, not a fixed time.
    await vi.waitFor(() => expect(runner.alive(p.pid)).toBe(false));
  });

  it('passes env and cwd', async () => {
    const lines: string[] = [];
    const p = await runner.spawn({
      name: 'e',
      command: 'echo "$GREETING $(pwd)"',
      env: { GREETING: 'hi', PATH: process.env.PATH ?? '/usr/bin:/bin' },
      cwd: '/tmp',
      stdout: (l) => lines.push(l),
    });
    await p.exited;
    await vi.waitFor(() => expect(lines).toEqual(['hi /tmp']));
  });

  it('exec times out and kills the group', async () => {
    const r = await runner.exec('sleep 300', { timeoutMs: 100 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGKILL');
  });
});

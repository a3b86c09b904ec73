import { describe, expect, it } from 'vitest';
import { FakeProcessRunner } from './fake.ts';
import { describeProcessContract } from './runner.contract.ts';

describeProcessContract('fake', () => {
  const runner = new FakeProcessRunner();
  runner.script('stubborn', { ignoreSigterm: true, stdout: ['ready'] });
  return {
    runner,
    sleeper: 'sleep 300',
    stubborn: 'stubborn',
    exiter: (code) => {
      runner.script(`exit ${code}`, { exitCode: code });
      runner.onExec(`exit ${code}`, code);
      return `exit ${code}`;
    },
    printer: (lines) => {
      const command = `printf '%s\\n' ${lines.map((l) => `'${l}'`).join(' ')}`;
      runner.script(command, { exitCode: 0, stdout: lines });
      return command;
    },
  };
});

describe('FakeProcessRunner knobs', () => {
  it('spawnError makes spawn reject and records nothing', async () => {
    const runner = new FakeProcessRunner();
    runner.script('web', { spawnError: 'no such file' });
    await expect(runner.spawn({ name: 'web', command: 'x' })).rejects.toMatchObject({
      code: 'ProcessSpawnFailed',
    });
    expect(runner.processes).toHaveLength(0);
  });

  it('exit ends the latest process of a service', async () => {
    const runner = new FakeProcessRunner();
    const p = await runner.spawn({ name: 'web', command: 'x' });
    runner.exit('web', 2);
    expect(await p.exited).toEqual({ code: 2, signal: null });
    expect(runner.running('web')).toEqual([]);
  });
});

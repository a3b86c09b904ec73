import { describe, expect, it } from 'vitest';
import { pickTool } from './dispatch.ts';

describe('pickTool', () => {
  it.each([
    ['/usr/local/bin/orun', ['start'], 'orun', ['start']],
    ['orunctl', ['get', 'all'], 'orunctl', ['get', 'all']],
    ['/usr/local/bin/orch', ['validate', 'Orchfile'], 'orch', ['validate', 'Orchfile']],
    ['./dist/orun-linux-x64', ['orunctl', 'get', 'all'], 'orunctl', ['get', 'all']],
    ['orun', ['orch', 'parse', 'F'], 'orch', ['parse', 'F']],
    ['orun-linux-x64', ['--help'], 'orun', ['--help']],
    ['orun', [], 'orun', []],
    // A link name wins over a first argument that happens to name a tool.
    ['orunctl', ['orch'], 'orunctl', ['orch']],
  ])('%s %j → %s %j', (argv0, args, tool, rest) => {
    expect(pickTool(argv0, args)).toEqual({ tool, args: rest });
  });
});

import { describe, expect, it } from 'vitest';
import { environmentOf, nodeStatus, type AppliedView, type GitStatusView } from './status.ts';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const okGit: GitStatusView = {
  ready: true,
  reason: 'Succeeded',
  message: 'ok',
  lastSuccessTime: new Date(T0),
};
const failGit: GitStatusView = { ready: false, reason: 'GitOperationFailed', message: 'unreachable' };
const applied = (errors = 0): AppliedView => ({
  revision: 'main@sha1:abc',
  branch: 'main',
  keptFiles: errors > 0 ? ['deployments/a.yaml'] : [],
  errors: Array.from({ length: errors }, () => ({
    file: 'deployments/a.yaml',
    line: 4,
    col: 9,
    path: 'metadata.name',
    code: 'yaml_syntax',
    message: 'bad',
  })),
});
const conds = (s: ReturnType<typeof nodeStatus>): string[] =>
  (s.conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}`);

describe('nodeStatus', () => {
  it.each([
    {
      name: 'synced and valid',
      git: okGit,
      a: applied(),
      want: ['GitSynced=True/Succeeded', 'ManifestsValid=True/AllManifestsValid', 'Ready=True/Synced'],
    },
    {
      name: 'manifest errors',
      git: okGit,
      a: applied(1),
      want: ['GitSynced=True/Succeeded', 'ManifestsValid=False/ManifestErrors', 'Ready=False/ManifestErrors'],
    },
    {
      name: 'git failing',
      git: failGit,
      a: applied(),
      want: [
        'GitSynced=False/GitOperationFailed',
        'ManifestsValid=True/AllManifestsValid',
        'Ready=False/GitOperationFailed',
      ],
    },
    {
      name: 'refused: unknown node',
      git: okGit,
      a: { ...applied(), refused: { reason: 'UnknownNode', message: 'no nodes/x.yaml' } },
      want: ['GitSynced=True/Succeeded', 'ManifestsValid=True/AllManifestsValid', 'Ready=False/UnknownNode'],
    },
    {
      name: 'restored last good, Git unreachable',
      git: failGit,
      a: { ...applied(), restored: { message: 'running the last good objects saved at main@sha1:abc' } },
      want: [
        'GitSynced=False/GitOperationFailed',
        'ManifestsValid=Unknown/LastGoodRestored',
        'Ready=False/GitOperationFailed',
      ],
    },
    {
      name: 'restored last good, the fetched revision could not be loaded',
      git: okGit,
      a: { ...applied(), restored: { message: 'running the last good objects saved at main@sha1:abc' } },
      want: [
        'GitSynced=True/Succeeded',
        'ManifestsValid=Unknown/LastGoodRestored',
        'Ready=False/LastGoodRestored',
      ],
    },
    {
      name: 'nothing applied yet',
      git: okGit,
      a: undefined,
      want: ['GitSynced=True/Succeeded', 'ManifestsValid=Unknown/Progressing', 'Ready=Unknown/Progressing'],
    },
  ])('$name', ({ git, a, want }) => {
    expect(conds(nodeStatus(undefined, git, a, 1, T0))).toEqual(want);
  });

  it.each([
    {
      engine: { available: true, message: 'ok' },
      want: ['RuntimeReady=True/EngineAvailable', 'Ready=True/Synced'],
    },
    {
      engine: { available: false, message: 'docker: ping: connect ENOENT /run/x.sock' },
      want: ['RuntimeReady=False/EngineUnavailable', 'Ready=False/EngineUnavailable'],
    },
    {
      engine: { available: undefined, message: '' },
      want: ['RuntimeReady=Unknown/Progressing', 'Ready=True/Synced'],
    },
  ])('engine available=$engine.available → $want', ({ engine, want }) => {
    const got = conds(nodeStatus(undefined, okGit, applied(), 1, T0, engine));
    expect(got.filter((c) => c.startsWith('RuntimeReady') || c.startsWith('Ready'))).toEqual(want);
  });

  it('a failed save of the last good objects shows as StateSaved=False until a save works', () => {
    const failed = nodeStatus(
      undefined,
      okGit,
      { ...applied(), saveError: 'last good: write /d/state/last-good.json: ENOSPC' },
      1,
      T0,
    );
    expect(failed.conditions?.find((c) => c.type === 'StateSaved')).toMatchObject({
      status: 'False',
      reason: 'StateWriteFailed',
      message: expect.stringContaining('ENOSPC') as unknown,
    });
    const back = nodeStatus(failed, okGit, applied(), 1, T0);
    expect(back.conditions?.find((c) => c.type === 'StateSaved')?.status).toBe('True');
    expect(
      nodeStatus(undefined, okGit, applied(), 1, T0).conditions?.some((c) => c.type === 'StateSaved'),
    ).toBe(false);
  });

  it('engine down: the message says nothing is changed, and names the error', () => {
    const s = nodeStatus(undefined, okGit, applied(), 1, T0, { available: false, message: 'connect ENOENT' });
    expect(s.conditions?.find((c) => c.type === 'RuntimeReady')?.message).toBe(
      'the container engine does not answer (connect ENOENT); containers are left as they are and nothing is changed until it answers',
    );
  });

  it('carries revision, environment, last sync and source errors with file:line in the message', () => {
    const s = nodeStatus(undefined, okGit, applied(1), 2, T0);
    expect(s).toMatchObject({
      observedGeneration: 2,
      revision: 'main@sha1:abc',
      branch: 'main',
      environment: 'production',
      lastSyncTime: '2025-01-01T00:00:00Z',
      sourceErrors: [{ file: 'deployments/a.yaml', line: 4 }],
    });
    expect(s.conditions?.find((c) => c.type === 'ManifestsValid')?.message).toBe(
      '1 manifest error in deployments/a.yaml at main@sha1:abc (keeping the last good objects of deployments/a.yaml): deployments/a.yaml:4:9: metadata.name: bad',
    );
  });

  it('lastTransitionTime moves only when a status flips', () => {
    const first = nodeStatus(undefined, okGit, applied(), 1, T0);
    const same = nodeStatus(first, okGit, applied(), 1, T0 + 60_000);
    const flipped = nodeStatus(same, failGit, applied(), 1, T0 + 120_000);
    const t = (s: typeof first): string | undefined =>
      s.conditions?.find((c) => c.type === 'GitSynced')?.lastTransitionTime;
    expect(t(same)).toBe(t(first));
    expect(t(flipped)).toBe('2025-01-01T00:02:00Z');
  });

  it.each([
    ['main', 'production'],
    ['staging', 'staging'],
  ])('environment of %s is %s', (branch, env) => {
    expect(environmentOf(branch)).toBe(env);
  });
});

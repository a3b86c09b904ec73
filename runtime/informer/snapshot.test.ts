import { describe, expect, it } from 'vitest';
import { SOURCE_ANNOTATION, type ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { unknownNodeRefusal } from './informer.ts';
import { buildSnapshot, EMPTY_MEMORY, type LoadedFile, type SnapshotMemory } from './snapshot.ts';

const node = (labels: Record<string, string> = {}): ApiObject => ({
  apiVersion: 'run.orcra.dev/v0alpha',
  kind: 'Node',
  metadata: { name: 'n1', labels },
  spec: { host: 'h', gitRepo: 'r' },
});
const dep = (
  name: string,
  spec: Record<string, unknown> = {},
  commit = 'c1',
  path = `deployments/${name}.yaml`,
): ApiObject => ({
  apiVersion: 'run.orcra.dev/v0alpha',
  kind: 'Deployment',
  metadata: { name, annotations: { [SOURCE_ANNOTATION]: `${path}@${commit}` } },
  spec: { image: 'x', ...spec },
});
const file = (path: string, objects: ApiObject[], errors = 0): LoadedFile => ({
  path,
  objects,
  errors: Array.from({ length: errors }, () => ({
    file: path,
    line: 3,
    col: 1,
    path: '',
    code: 'yaml_syntax',
    message: 'bad',
  })),
});
const opts = {
  nodeName: 'n1',
  fallbackNode: () => ({ ...node(), metadata: { name: 'n1', annotations: { generated: 'y' } } }),
};
const names = (objs: ApiObject[]): string[] => objs.map((o) => `${o.kind}/${o.metadata.name}`);

function run(steps: LoadedFile[][]): ReturnType<typeof buildSnapshot>[] {
  let memory: SnapshotMemory = EMPTY_MEMORY;
  return steps.map((files) => {
    const b = buildSnapshot(files, memory, opts);
    memory = b.memory;
    return b;
  });
}

describe('buildSnapshot', () => {
  it.each([
    {
      name: 'no nodes/ folder: the fallback Node, everything applies',
      files: [file('deployments/a.yaml', [dep('a')])],
      unknown: undefined,
    },
    {
      name: 'nodes/ without this node: unknownNode lists the names',
      files: [
        file('nodes/web-2.yaml', [{ ...node(), metadata: { name: 'web-2' } }]),
        file('nodes/edge.yaml', [{ ...node(), metadata: { name: 'edge' } }]),
        file('deployments/a.yaml', [dep('a')]),
      ],
      unknown: { known: ['edge', 'web-2'] },
    },
    {
      name: 'nodes/ whose only file does not decode: unknownNode with no names',
      files: [file('nodes/n1.yaml', [], 1), file('deployments/a.yaml', [dep('a')])],
      unknown: { known: [] },
    },
    {
      name: 'this node present: no unknownNode',
      files: [file('nodes/n1.yaml', [node()]), file('deployments/a.yaml', [dep('a')])],
      unknown: undefined,
    },
  ])('$name', ({ files, unknown }) => {
    const [b] = run([files]);
    expect(b!.unknownNode).toEqual(unknown);
  });

  it('keeps a failing file’s last good objects and reports its errors', () => {
    const [, second] = run([
      [file('nodes/n1.yaml', [node()]), file('deployments/a.yaml', [dep('a', { env: { A: '1' } })])],
      [file('nodes/n1.yaml', [node()]), file('deployments/a.yaml', [], 1)],
    ]);
    expect(names(second!.objects)).toEqual(['Node/n1', 'Deployment/a']);
    expect(second!.objects[1]?.spec).toEqual({ image: 'x', env: { A: '1' } });
    expect(second!.keptFiles).toEqual(['deployments/a.yaml']);
    expect(second!.errors).toMatchObject([{ file: 'deployments/a.yaml', line: 3 }]);
  });

  it.each([
    { name: 'a deleted file deletes its objects', next: [] as LoadedFile[], want: ['Node/n1'] },
    {
      name: 'a new file that fails keeps what decoded',
      next: [file('deployments/b.yaml', [dep('b')], 1)],
      want: ['Node/n1', 'Deployment/b'],
    },
  ])('$name', ({ next, want }) => {
    const [, second] = run([[file('deployments/a.yaml', [dep('a')])], next]);
    expect(names(second!.objects)).toEqual(want);
  });

  it.each<{ labels: Record<string, string>; want: string[] }>([
    { labels: { tier: 'web' }, want: ['Node/n1', 'Deployment/all', 'Deployment/mine', 'Deployment/web'] },
    { labels: {}, want: ['Node/n1', 'Deployment/all', 'Deployment/mine'] },
  ])('filters by nodeName and nodeSelector (labels $labels)', ({ labels, want }) => {
    const [b] = run([
      [
        file('nodes/n1.yaml', [node(labels)]),
        file('nodes/n2.yaml', [{ ...node(), metadata: { name: 'n2' } }]),
        file('deployments/all.yaml', [dep('all')]),
        file('deployments/mine.yaml', [dep('mine', { nodeName: 'n1' })]),
        file('deployments/other.yaml', [dep('other', { nodeName: 'n2' })]),
        file('deployments/web.yaml', [dep('web', { nodeSelector: { matchLabels: { tier: 'web' } } })]),
      ],
    ]);
    expect(names(b!.objects).sort()).toEqual(want.sort());
  });

  it('uses the fallback Node when the repository has none for this node', () => {
    const [b] = run([[file('deployments/a.yaml', [dep('a')])]]);
    expect(b!.node.metadata.annotations).toEqual({ generated: 'y' });
  });

  it('keeps the source commit of objects a commit did not change', () => {
    const [, second] = run([
      [file('deployments/a.yaml', [dep('a', {}, 'c1')]), file('deployments/b.yaml', [dep('b', {}, 'c1')])],
      [
        file('deployments/a.yaml', [dep('a', {}, 'c2')]),
        file('deployments/b.yaml', [dep('b', { env: { X: '1' } }, 'c2')]),
      ],
    ]);
    const src = (n: string): string | undefined =>
      second!.objects.find((o) => o.metadata.name === n)?.metadata.annotations?.[SOURCE_ANNOTATION];
    expect(src('a')).toBe('deployments/a.yaml@c1');
    expect(src('b')).toBe('deployments/b.yaml@c2');
  });

  it('reports a name defined in two files and keeps the first', () => {
    const [b] = run([
      [file('deployments/a.yaml', [dep('a')]), file('deployments/z.yaml', [dep('a', { image: 'y' })])],
    ]);
    expect(b!.objects.filter((o) => o.kind === 'Deployment')).toHaveLength(1);
    expect(b!.errors).toMatchObject([{ file: 'deployments/z.yaml', code: 'duplicate_name' }]);
  });

  // Issue 9 bug 7: a new file that sorted first replaced a running container with its own spec.
  it('keeps the running object when a newcomer sorting first defines the same name', () => {
    const [, second, third] = run([
      [file('deployments/web.yaml', [dep('web')])],
      [
        file('deployments/a-new.yaml', [dep('web', { image: 'evil' }, 'c2', 'deployments/a-new.yaml')]),
        file('deployments/web.yaml', [dep('web', {}, 'c2')]),
      ],
      [file('deployments/a-new.yaml', [dep('web', { image: 'evil' }, 'c3', 'deployments/a-new.yaml')])],
    ]);
    expect(second!.objects.find((o) => o.metadata.name === 'web')?.spec).toEqual({ image: 'x' });
    expect(second!.errors).toMatchObject([
      {
        file: 'deployments/a-new.yaml',
        code: 'duplicate_name',
        message: 'Deployment/web is already defined in deployments/web.yaml; this one is ignored',
      },
    ]);
    // Once the original file is gone, the other definition is the only one and applies.
    expect(third!.objects.find((o) => o.metadata.name === 'web')?.spec).toEqual({ image: 'evil' });
  });
});

describe('unknownNodeRefusal', () => {
  it('names the missing file, the known nodes and the likely typo', () => {
    expect(unknownNodeRefusal('edge-l', ['edge-1', 'web-1'], 'main@sha1:abc')).toEqual({
      reason: 'UnknownNode',
      known: ['edge-1', 'web-1'],
      message:
        "no nodes/edge-l.yaml at main@sha1:abc: refusing to reconcile; the repository's nodes are edge-1, web-1 " +
        "(did you mean 'edge-1'?); start orun with --node set to one of them, or commit nodes/edge-l.yaml",
    });
  });

  // Issue 9 bug 8: host paths that own the node were accepted.
  it("refuses what the node's policy refuses, keeping the file's last good objects", () => {
    const refuse = (obj: ApiObject) =>
      JSON.stringify(obj.spec).includes('/etc')
        ? [
            {
              file: 'deployments/a.yaml',
              line: 7,
              col: 9,
              path: 'spec.volumes[0].hostPath',
              code: 'host_path_refused',
              message: 'no',
            },
          ]
        : [];
    let memory: SnapshotMemory = EMPTY_MEMORY;
    const step = (files: LoadedFile[]) => {
      const b = buildSnapshot(files, memory, { ...opts, objectErrors: refuse });
      memory = b.memory;
      return b;
    };
    const vol = (hostPath: string) => ({ volumes: [{ hostPath, containerPath: '/x' }] });
    step([file('deployments/a.yaml', [dep('a', vol('/srv/a'))])]);
    const second = step([file('deployments/a.yaml', [dep('a', vol('/etc'))])]);
    expect(second.objects.find((o) => o.metadata.name === 'a')?.spec).toMatchObject(vol('/srv/a'));
    expect(second.errors).toMatchObject([{ code: 'host_path_refused' }]);
    const fresh = step([file('deployments/b.yaml', [dep('b', vol('/etc'))])]);
    expect(names(fresh.objects)).toEqual(['Node/n1']);
  });
});

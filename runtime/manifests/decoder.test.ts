import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DecodeResult, decodeManifestFile } from '../../apis/run.orcra.dev/v0alpha/decode.ts';
import { LoadDecoder } from './decoder.ts';
import { loadManifestTree, type ManifestTree, type TreeFile } from './tree.ts';

const H = 'apiVersion: run.orcra.dev/v0alpha\n';
const dep = (name: string, spec: string) =>
  `${H}kind: Deployment\nmetadata:\n  name: ${name}\nspec:\n${spec}`;
const bigEnv = (name: string, keys: number, spec = '  image: nginx:1\n') =>
  dep(name, `${spec}  env:\n${Array.from({ length: keys }, (_, i) => `    K${i}: v\n`).join('')}`);

/** Texts whose decode must be the same on both threads: valid, refused, and every kind of error. */
const CASES: Record<string, string> = {
  valid: dep('web', '  image: nginx:1\n  ports:\n    - containerPort: 80\n      port: 8080\n'),
  anchors: `${dep('web', '  image: nginx:1\n  env: &e\n    A: "1"\n  labels: *e\n')}---\n${dep('other', '  image: x:1\n  args: [&a a, *a]\n')}`,
  'no-spec': `${H}kind: Deployment\nmetadata:\n  name: h\n`,
  'unknown-field': dep('web', '  imgae: nginx:1\n'),
  'dup-keys': dep('h-dup', '  image: a:1\n  image: b:1\n'),
  'bad-yaml': dep('web', '  image: [oops\n'),
  'alias-bomb': `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n`,
  'many-aliases': dep(
    'web',
    `  image: x:1\n  env:\n    A: &v "1"\n${Array.from({ length: 101 }, (_, i) => `    K${i}: *v\n`).join('')}`,
  ),
  'wrong-dir': `${H}kind: Service\nmetadata:\n  name: web\nspec:\n  deployment: web\n`,
  binary: '\u0000\u0001\u00ff\ufffe garbage',
  // The parser runs out of stack at another depth in a worker (a larger stack): the same error.
  'deep-nesting': `${'['.repeat(10_000)}${']'.repeat(10_000)}\n`,
  'big-valid': bigEnv('big', 2000),
  'big-refused': bigEnv('big', 2000, ''),
};

/** Every field path of a value (and a missing child of each), for comparing locators. */
function paths(v: unknown, pre: PropertyKey[] = [], out: PropertyKey[][] = []): PropertyKey[][] {
  out.push(pre, [...pre, 'missing'], [...pre, 0]);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...pre, i], out));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) paths(x, [...pre, k], out);
  return out;
}

function view(r: DecodeResult): unknown {
  return {
    objects: r.objects,
    errors: r.errors.map((e) => e.format()),
    codes: r.errors.map((e) => e.code),
    warnings: r.warnings.map((e) => e.format()),
    positions: r.objects.map((o) => paths(o).map((p) => r.locate(o, p))),
  };
}

function tree(commit: string, files: Record<string, string>): ManifestTree {
  const entries: TreeFile[] = Object.entries(files).map(([path, text]) => ({
    path,
    kind: 'file',
    size: Buffer.byteLength(text),
  }));
  return {
    commit,
    list: () => Promise.resolve(entries),
    read: (es) => Promise.resolve(new Map(es.map((e) => [e.path, Buffer.from(files[e.path] ?? '')]))),
  };
}

describe('LoadDecoder', () => {
  it('decodes in the worker thread exactly as on the calling thread: objects, errors, warnings, field positions', async () => {
    const decoder = new LoadDecoder({ workerMinBytes: 0 });
    try {
      for (const [name, text] of Object.entries(CASES)) {
        const path = name === 'wrong-dir' ? 'deployments/web.yaml' : `deployments/${name}.yaml`;
        const inWorker = await decoder.decode(path, text, { commit: 'c0ffee' });
        expect(decoder.workerRunning).toBe(true);
        expect([name, view(inWorker)]).toEqual([
          name,
          view(decodeManifestFile(path, text, { commit: 'c0ffee' })),
        ]);
      }
    } finally {
      await decoder.close();
    }
    expect(decoder.workerError).toBeUndefined();
    expect(decoder.workerRunning).toBe(false);
  });

  it('decodes small files on the calling thread and starts no worker', async () => {
    const decoder = new LoadDecoder();
    const r = await decoder.decode('deployments/web.yaml', CASES.valid!);
    expect(r.objects.map((o) => o.metadata.name)).toEqual(['web']);
    expect(decoder.workerRunning).toBe(false);
    await decoder.close();
  });

  it('a newer commit (the signal) terminates the worker mid-decode: manifests.superseded', async () => {
    const ac = new AbortController();
    const decoder = new LoadDecoder({ signal: ac.signal, workerMinBytes: 0 });
    const pending = decoder.decode('deployments/big.yaml', bigEnv('big', 40_000));
    expect(decoder.workerRunning).toBe(true);
    ac.abort();
    await expect(pending).rejects.toMatchObject({ code: 'manifests.superseded' });
    expect(decoder.workerRunning).toBe(false);
    await expect(decoder.decode('deployments/web.yaml', CASES.valid!)).rejects.toMatchObject({
      code: 'manifests.superseded',
    });
    await decoder.close();
  });

  it('goes on on the calling thread when the worker cannot start, and keeps why', async () => {
    const decoder = new LoadDecoder({
      workerMinBytes: 0,
      script: { filename: new URL('./no-such-worker.cjs', import.meta.url), eval: false },
    });
    const r = await decoder.decode('deployments/web.yaml', CASES['unknown-field']!);
    expect(view(r)).toEqual(view(decodeManifestFile('deployments/web.yaml', CASES['unknown-field']!)));
    expect(decoder.workerError).toBeDefined();
    expect(decoder.workerRunning).toBe(false);
    await decoder.close();
  });

  it('a reply it cannot read is a failed worker: the file is decoded on the calling thread', async () => {
    const decoder = new LoadDecoder({
      workerMinBytes: 0,
      script: {
        filename:
          'const { parentPort } = require("node:worker_threads");' +
          'parentPort.on("message", (req) => parentPort.postMessage({ id: req.id, data: { errors: [null] } }));',
        eval: true,
      },
    });
    const r = await decoder.decode('deployments/web.yaml', CASES['unknown-field']!);
    expect(view(r)).toEqual(view(decodeManifestFile('deployments/web.yaml', CASES['unknown-field']!)));
    expect(decoder.workerError).toMatchObject({ code: 'manifests.decode_worker_reply' });
    expect(decoder.workerRunning).toBe(false);
    await decoder.close();
  });
});

describe('loadManifestTree: responsive while a large file decodes', () => {
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    server = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const get = () =>
    new Promise<void>((resolve, reject) =>
      http
        .get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (r) =>
          r.resume().on('end', resolve),
        )
        .on('error', reject),
    );

  // Ordering, not milliseconds: requests made once the file's text is read (its decode is next)
  // are all answered before the load resolves. Decoded on the calling thread (as before the
  // worker), the decode of this one file blocks them: the load resolves first.
  it('answers requests made during the decode of a file at the size limit before the load finishes', async () => {
    const text = bigEnv('big', 70_000, '');
    expect(Buffer.byteLength(text)).toBeLessThan(1024 * 1024);
    const files = { 'deployments/big.yaml': text, 'deployments/web.yaml': CASES.valid! };
    const base = tree('c1', files);
    const order: string[] = [];
    let requests: Promise<void> | undefined;
    const t: ManifestTree = {
      ...base,
      read: async (es) => {
        const blobs = await base.read(es);
        requests = (async () => {
          for (let i = 0; i < 3; i++) {
            await get();
            order.push(`answer ${i + 1}`);
          }
        })();
        return blobs;
      },
    };
    const repo = await loadManifestTree(t, {});
    order.push('load finished');
    await requests;
    expect(order).toEqual(['answer 1', 'answer 2', 'answer 3', 'load finished']);
    expect(repo.errors.map((e) => `${e.file}: ${e.message}`)).toEqual([
      'deployments/big.yaml: one of image or build is required',
    ]);
    expect(repo.objects.map((o) => o.metadata.name)).toEqual(['web']);
    expect(repo.workerError).toBeUndefined();
  });
});

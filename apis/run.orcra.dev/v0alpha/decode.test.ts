import { describe, expect, it } from 'vitest';
import { MAX_ALIASES, MAX_DEPTH, decodeManifestFile } from './decode.ts';
import { SOURCE_ANNOTATION } from './meta.ts';

const HEAD = 'apiVersion: run.orcra.dev/v0alpha\n';
/** A Deployment whose spec lines start at line 5. */
const dep = (spec: string) => `${HEAD}kind: Deployment\nmetadata:\n  name: web\nspec:\n${spec}`;

describe('decodeManifestFile: invalid manifests', () => {
  it.each([
    {
      name: 'port that is not a number',
      file: 'deployments/web.yaml',
      text: dep('  ports:\n  - containerPort: http\n    port: 8080\n  image: nginx:1\n'),
      errors: ['deployments/web.yaml:7:5: spec.ports[0].containerPort: expected integer 1-65535, got "http"'],
    },
    {
      name: 'an allowed signer that is not an SSH public key line',
      file: 'nodes/n.yaml',
      text: `${HEAD}kind: Node\nmetadata:\n  name: n\nspec:\n  host: h\n  gitRepo: r\n  verifyCommits:\n    allowedSigners:\n      - alice@example.com\n`,
      errors: [
        'nodes/n.yaml:10:9: spec.verifyCommits.allowedSigners[0]: expected an allowed-signers line: "principal ssh-ed25519 AAAA... [comment]", got "alice@example.com"',
      ],
    },
    {
      name: 'port out of range',
      file: 'deployments/web.yaml',
      text: dep('  image: nginx:1\n  ports:\n    - containerPort: 80\n      port: 70000\n'),
      errors: ['deployments/web.yaml:9:7: spec.ports[0].port: expected integer 1-65535, got 70000'],
    },
    {
      name: 'misspelt field with a suggestion',
      file: 'deployments/web.yaml',
      text: dep('  imgae: nginx:1\n'),
      errors: [
        'deployments/web.yaml:5:1: spec: one of image or build is required',
        'deployments/web.yaml:6:3: spec.imgae: unknown field, did you mean "image"?',
      ],
    },
    {
      name: 'unknown field without a near name',
      file: 'deployments/web.yaml',
      text: dep('  image: nginx:1\n  replicas: 3\n'),
      errors: ['deployments/web.yaml:7:3: spec.replicas: unknown field'],
    },
    {
      name: 'image and build together',
      file: 'deployments/web.yaml',
      text: dep('  image: nginx:1\n  build:\n    context: app\n'),
      errors: ['deployments/web.yaml:7:3: spec.build: image and build are mutually exclusive; set only one'],
    },
    {
      name: 'env value that is a number',
      file: 'deployments/web.yaml',
      text: dep('  image: nginx:1\n  env:\n    PORT: 8080\n'),
      errors: [
        'deployments/web.yaml:8:5: spec.env.PORT: expected string, got number 8080 (quote it: "8080")',
      ],
    },
    {
      name: 'malformed readiness probe',
      file: 'deployments/web.yaml',
      text: dep('  image: nginx:1\n  health:\n    readiness:\n      http: /health\n'),
      errors: [
        'deployments/web.yaml:9:7: spec.health.readiness.http: expected "[https://]host:port/path" like "localhost:80/health", got "/health"',
      ],
    },
    {
      name: 'bad probe tuning',
      file: 'deployments/web.yaml',
      text: dep(
        '  image: nginx:1\n  health:\n    liveness:\n      http: localhost:80/\n      periodSeconds: 0\n',
      ),
      errors: [
        'deployments/web.yaml:10:7: spec.health.liveness.periodSeconds: expected a whole number of seconds >= 1, got 0',
      ],
    },
    {
      name: 'imagePullPolicy not in the enum',
      file: 'deployments/web.yaml',
      text: dep('  image: nginx:1\n  imagePullPolicy: Sometimes\n'),
      errors: [
        'deployments/web.yaml:7:3: spec.imagePullPolicy: expected one of "IfNotPresent", "Always", "Never", got "Sometimes"',
      ],
    },
    {
      name: 'relative volume path',
      file: 'deployments/web.yaml',
      text: dep('  image: nginx:1\n  volumes:\n    - hostPath: data\n      containerPath: /data\n'),
      errors: ['deployments/web.yaml:8:7: spec.volumes[0].hostPath: expected an absolute path, got "data"'],
    },
    {
      name: 'name that is not DNS-1123',
      file: 'deployments/web.yaml',
      text: `${HEAD}kind: Deployment\nmetadata:\n  name: Web_1\nspec:\n  image: nginx:1\n`,
      errors: [
        `deployments/web.yaml:4:3: metadata.name: expected a DNS-1123 name (lower-case letters, digits and '-', starting and ending alphanumeric), got "Web_1"`,
      ],
    },
    {
      name: 'node duration',
      file: 'nodes/a.yaml',
      text: `${HEAD}kind: Node\nmetadata:\n  name: a\nspec:\n  host: a.example.com\n  gitRepo: https://example.com/r.git\n  pollInterval: 5 seconds\n`,
      errors: [
        'nodes/a.yaml:8:3: spec.pollInterval: expected a duration like "5s" or "1m30s", got "5 seconds"',
      ],
    },
    {
      name: 'node missing required fields',
      file: 'nodes/a.yaml',
      text: `${HEAD}kind: Node\nmetadata:\n  name: a\nspec:\n  user: admin\n`,
      errors: [
        'nodes/a.yaml:5:1: spec.host: required field',
        'nodes/a.yaml:5:1: spec.gitRepo: required field',
      ],
    },
    {
      name: 'service without a default domain',
      file: 'services/web.yaml',
      text: `${HEAD}kind: Service\nmetadata:\n  name: web\nspec:\n  deployment: web\n  ingress:\n    domain:\n      environment: app.example.com\n`,
      errors: [
        'services/web.yaml:8:5: spec.ingress.domain.default: required field',
        'services/web.yaml:9:7: spec.ingress.domain.environment: expected a domain template containing $ENV, like "$ENV.app.example.com", got "app.example.com"',
      ],
    },
    {
      name: 'ssl that is not a boolean',
      file: 'services/web.yaml',
      text: `${HEAD}kind: Service\nmetadata:\n  name: web\nspec:\n  deployment: web\n  ingress:\n    domain: { default: a.example.com }\n    ssl: yes\n`,
      errors: ['services/web.yaml:9:5: spec.ingress.ssl: expected true or false, got "yes"'],
    },
    {
      name: 'servicegraph without orchfiles',
      file: 'servicegraphs/g.yaml',
      text: `${HEAD}kind: ServiceGraph\nmetadata:\n  name: g\nspec:\n  orchfiles: []\n`,
      errors: ['servicegraphs/g.yaml:6:3: spec.orchfiles: expected at least one Orchfile path'],
    },
    {
      name: 'servicegraph orchfile escaping the repo',
      file: 'servicegraphs/g.yaml',
      text: `${HEAD}kind: ServiceGraph\nmetadata:\n  name: g\nspec:\n  orchfiles: [../Orchfile]\n`,
      errors: [
        `servicegraphs/g.yaml:6:15: spec.orchfiles[0]: expected a path relative to the repository root without '..', got "../Orchfile"`,
      ],
    },
    {
      name: 'misspelt kind',
      file: 'deployments/web.yaml',
      text: `${HEAD}kind: Deploymnet\nmetadata:\n  name: web\n`,
      errors: ['deployments/web.yaml:2:1: kind: unknown kind "Deploymnet", did you mean "Deployment"?'],
    },
    {
      name: 'missing kind',
      file: 'deployments/web.yaml',
      text: `${HEAD}metadata:\n  name: web\n`,
      errors: ['deployments/web.yaml:1:1: kind: required field'],
    },
    {
      name: 'wrong apiVersion',
      file: 'deployments/web.yaml',
      text: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  image: nginx:1\n',
      errors: ['deployments/web.yaml:1:1: apiVersion: expected "run.orcra.dev/v0alpha", got "apps/v1"'],
    },
    {
      name: 'status written in Git',
      file: 'deployments/web.yaml',
      text: dep('  image: nginx:1\nstatus:\n  ready: true\n'),
      errors: ['deployments/web.yaml:7:1: status: unknown field: status is kept by the node, never in Git'],
    },
    {
      name: 'a document that is not a mapping',
      file: 'deployments/web.yaml',
      text: '- just\n- a list\n',
      errors: [
        'deployments/web.yaml:1:1: expected a mapping with apiVersion, kind, metadata and spec, got a list',
      ],
    },
    {
      name: 'YAML syntax error',
      file: 'deployments/web.yaml',
      text: dep('  image: [nginx\n'),
      errors: [expect.stringMatching(/^deployments\/web\.yaml:7:1: invalid YAML: /) as unknown as string],
    },
    {
      name: 'duplicate key',
      file: 'deployments/web.yaml',
      text: dep('  image: nginx:1\n  image: nginx:2\n'),
      errors: ['deployments/web.yaml:7:3: invalid YAML: Map keys must be unique'],
    },
    {
      name: 'duplicate key in a nested map (checked in one pass)',
      file: 'deployments/web.yaml',
      text: dep('  image: nginx:1\n  env:\n    A: "1"\n    B: "2"\n    A: "3"\n'),
      errors: ['deployments/web.yaml:10:5: invalid YAML: Map keys must be unique'],
    },
    // Issue 9 bug 1: these threw a TypeError out of a refine and blocked the whole repository.
    {
      name: 'Deployment without spec',
      file: 'deployments/web.yaml',
      text: `${HEAD}kind: Deployment\nmetadata:\n  name: web\n`,
      errors: ['deployments/web.yaml:1:1: spec: required field'],
    },
    {
      name: 'Deployment with an empty spec',
      file: 'deployments/web.yaml',
      text: dep(''),
      errors: ['deployments/web.yaml:5:1: spec: expected a mapping, got null'],
    },
    {
      name: 'Deployment with a scalar spec',
      file: 'deployments/web.yaml',
      text: dep('  7\n'),
      errors: ['deployments/web.yaml:5:1: spec: expected a mapping, got 7'],
    },
    // Issue 9 bug 10: runc refused it at start, and the Deployment said "Creating" forever.
    {
      name: 'env value with a NUL character',
      file: 'deployments/web.yaml',
      text: dep('  image: nginx:1\n  env:\n    A: "x\\0y"\n'),
      errors: ['deployments/web.yaml:8:5: spec.env.A: must not contain a NUL character (\\0)'],
    },
    // YAML 1.2 reads an unquoted 0440 as the decimal 440: a mode must be quoted octal text.
    {
      name: 'secret file mode not quoted, and a uid that is a name',
      file: 'deployments/web.yaml',
      text: dep('  image: nginx:1\n  secretFiles:\n    - key: pw\n      uid: postgres\n      mode: 0440\n'),
      errors: [
        'deployments/web.yaml:9:7: spec.secretFiles[0].uid: expected a numeric uid, like 999 or "999", got "postgres"',
        'deployments/web.yaml:10:7: spec.secretFiles[0].mode: expected an octal mode in quotes, like "0440" (YAML reads an unquoted 0440 as the number 440), got 440',
      ],
    },
    // Issue 9 bug 4: a key file symlinked in was quoted (41 of its 58 characters) in the error.
    {
      name: 'a document that is one string is not echoed',
      file: 'deployments/key.yaml',
      text: 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n',
      errors: [
        'deployments/key.yaml:1:1: expected a mapping with apiVersion, kind, metadata and spec, got a string',
      ],
    },
  ])('$name', ({ file, text, errors }) => {
    const res = decodeManifestFile(file, text);
    expect(res.errors.map((e) => e.format())).toEqual(errors);
    expect(res.objects).toEqual([]);
  });
});

describe('decodeManifestFile: valid manifests', () => {
  it.each([
    {
      name: 'node with upstream defaults',
      file: 'nodes/demo.yaml',
      text: `${HEAD}kind: Node\nmetadata:\n  name: demo\nspec:\n  host: 10.0.0.1\n  gitRepo: git@example.com:ops/manifests.git\n`,
      spec: {
        host: '10.0.0.1',
        user: 'root',
        sshPort: 22,
        sshKeyPath: '~/.ssh/id_ed25519',
        gitRepo: 'git@example.com:ops/manifests.git',
        gitBranch: 'main',
        pollInterval: '5s',
        dataDir: '/opt/orun/',
      },
    },
    {
      name: 'node that verifies commits',
      file: 'nodes/demo.yaml',
      text: `${HEAD}kind: Node\nmetadata:\n  name: demo\nspec:\n  host: 10.0.0.1\n  gitRepo: r\n  verifyCommits:\n    allowedSigners:\n      - alice@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEx+1= alice\n`,
      spec: {
        host: '10.0.0.1',
        user: 'root',
        sshPort: 22,
        sshKeyPath: '~/.ssh/id_ed25519',
        gitRepo: 'r',
        gitBranch: 'main',
        pollInterval: '5s',
        dataDir: '/opt/orun/',
        verifyCommits: {
          allowedSigners: ['alice@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEx+1= alice'],
        },
      },
    },
    {
      name: 'deployment with image, ports and probe defaults',
      file: 'deployments/web.yaml',
      text: dep(
        '  image: traefik/whoami\n  ports:\n    - containerPort: 80\n      port: 8080\n  env:\n    LOG_FORMAT: json\n    SECRET: ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:str]\n  health:\n    readiness:\n      http: localhost:80/health\n',
      ),
      spec: {
        image: 'traefik/whoami',
        ports: [{ containerPort: 80, port: 8080, protocol: 'tcp' }],
        volumes: [],
        env: { LOG_FORMAT: 'json', SECRET: 'ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:str]' },
        health: {
          readiness: {
            http: 'localhost:80/health',
            initialDelaySeconds: 0,
            periodSeconds: 10,
            timeoutSeconds: 1,
            successThreshold: 1,
            failureThreshold: 3,
          },
        },
      },
    },
    {
      name: 'deployment built from source',
      file: 'deployments/app.yaml',
      text: dep('  build:\n    context: my-app\n    args:\n      APP_VERSION: "1.2.3"\n  nodeName: web-01\n'),
      spec: {
        build: { context: 'my-app', args: { APP_VERSION: '1.2.3' }, buildMode: 'build-once' },
        ports: [],
        volumes: [],
        env: {},
        nodeName: 'web-01',
      },
    },
    {
      name: 'service with environment domain',
      file: 'services/web.yaml',
      text: `${HEAD}kind: Service\nmetadata:\n  name: web\nspec:\n  deployment: web\n  ingress:\n    domain:\n      default: app.example.com\n      environment: $ENV.app.example.com\n  nodeSelector:\n    matchLabels: { tier: web }\n`,
      spec: {
        deployment: 'web',
        ingress: { domain: { default: 'app.example.com', environment: '$ENV.app.example.com' }, ssl: false },
        nodeSelector: { matchLabels: { tier: 'web' } },
      },
    },
    {
      name: 'service graph',
      file: 'servicegraphs/stack.yaml',
      text: `${HEAD}kind: ServiceGraph\nmetadata:\n  name: stack\nspec:\n  orchfiles: [stack/Orchfile, stack/Orchfile.prod]\n  args: { VERSION: "2" }\n`,
      spec: { orchfiles: ['stack/Orchfile', 'stack/Orchfile.prod'], args: { VERSION: '2' } },
    },
  ])('$name', ({ file, text, spec }) => {
    const res = decodeManifestFile(file, text, { commit: 'abc123' });
    expect(res.errors.map((e) => e.format())).toEqual([]);
    expect(res.warnings).toEqual([]);
    expect(res.objects).toHaveLength(1);
    expect(res.objects[0]?.spec).toEqual(spec);
    expect(res.objects[0]?.metadata.annotations?.[SOURCE_ANNOTATION]).toBe(`${file}@abc123`);
  });
});

describe('decodeManifestFile: multi-document files', () => {
  const good = (name: string) =>
    `${HEAD}kind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  image: nginx:1\n`;

  it('keeps the good documents beside a bad one', () => {
    const text = `${good('a')}---\n${HEAD}kind: Deployment\nmetadata:\n  name: b\nspec:\n  image: nginx:1\n  ports: [{ containerPort: 0, port: 1 }]\n---\n${good('c')}---\n`;
    const res = decodeManifestFile('deployments/all.yaml', text);
    expect(res.objects.map((o) => o.metadata.name)).toEqual(['a', 'c']);
    expect(res.errors.map((e) => e.format())).toEqual([
      'deployments/all.yaml:14:13: spec.ports[0].containerPort: expected integer 1-65535, got 0',
    ]);
  });

  it('keeps the good documents beside a YAML syntax error', () => {
    const res = decodeManifestFile(
      'deployments/all.yaml',
      `${good('a')}---\nkey: [unclosed\n---\n${good('c')}`,
    );
    expect(res.objects.map((o) => o.metadata.name)).toEqual(['a', 'c']);
    expect(res.errors.map((e) => e.code)).toEqual(['yaml_syntax']);
  });

  it('skips empty documents and comments', () => {
    const res = decodeManifestFile('deployments/a.yaml', `---\n# nothing here\n---\n${good('a')}`);
    expect(res.errors).toEqual([]);
    expect(res.objects).toHaveLength(1);
  });

  it("warns about a kind in another kind's directory, and still decodes it", () => {
    const res = decodeManifestFile('nodes/web.yaml', good('web'));
    expect(res.objects).toHaveLength(1);
    expect(res.warnings.map((w) => w.format())).toEqual([
      'nodes/web.yaml:2:1: warning: kind: Deployment belongs in deployments/, not nodes/',
    ]);
  });

  it('locates fields of decoded objects', () => {
    const res = decodeManifestFile('deployments/a.yaml', good('a'));
    const obj = res.objects[0];
    expect(obj && res.locate(obj, ['spec', 'image'])).toEqual({
      file: 'deployments/a.yaml',
      line: 6,
      col: 3,
    });
    expect(obj && res.locate(obj, ['metadata', 'name'])).toEqual({
      file: 'deployments/a.yaml',
      line: 4,
      col: 3,
    });
  });

  it('gives errors stable codes and a JSON form', () => {
    const res = decodeManifestFile('deployments/web.yaml', dep('  imgae: x\n'));
    expect(res.errors.map((e) => e.code)).toEqual(['invalid_value', 'unknown_field']);
    expect(res.errors[1]?.toJSON()).toEqual({
      file: 'deployments/web.yaml',
      line: 6,
      col: 3,
      path: 'spec.imgae',
      message: 'unknown field, did you mean "image"?',
      code: 'unknown_field',
      severity: 'error',
    });
    expect(String(res.errors[1])).toBe(
      'deployments/web.yaml:6:3: spec.imgae: unknown field, did you mean "image"?',
    );
  });
});

describe('decodeManifestFile: bounds', () => {
  it('refuses a file over the size limit before parsing it', () => {
    const text = dep(`  image: nginx:1\n  env:\n${'    K: v\n'.repeat(200)}`);
    const res = decodeManifestFile('deployments/web.yaml', text, { maxBytes: 1000 });
    expect(res.errors.map((e) => [e.code, e.format()])).toEqual([
      [
        'too_large',
        `deployments/web.yaml:1:1: file is ${text.length} bytes, over the limit of 1000 per manifest file; not parsed`,
      ],
    ]);
  });

  it('counts bytes, not characters', () => {
    const res = decodeManifestFile('deployments/web.yaml', `# ${'é'.repeat(600)}\n`, { maxBytes: 1000 });
    expect(res.errors.map((e) => e.code)).toEqual(['too_large']);
  });

  it('refuses a document with more than MAX_ALIASES aliases (each is resolved by a scan of the anchors: quadratic)', () => {
    const aliases = (n: number) =>
      dep(
        `  image: nginx:1\n  env:\n${Array.from({ length: 10 }, (_, i) => `    A${i}: &v${i} "1"\n`).join('')}${Array.from({ length: n }, (_, i) => `    K${i}: *v${i % 10}\n`).join('')}`,
      );
    expect(decodeManifestFile('deployments/web.yaml', aliases(MAX_ALIASES)).errors).toEqual([]);
    const res = decodeManifestFile('deployments/web.yaml', aliases(MAX_ALIASES + 1));
    expect(res.objects).toEqual([]);
    expect(res.errors.map((e) => [e.code, e.format()])).toEqual([
      [
        'yaml_syntax',
        `deployments/web.yaml:${18 + MAX_ALIASES}:11: invalid YAML: ${MAX_ALIASES + 1} aliases, over the limit of ${MAX_ALIASES} per document`,
      ],
    ]);
  });

  it('refuses nesting deeper than MAX_DEPTH the same way whether or not the parser ran out of stack', () => {
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}\n`;
    const message = (text: string) =>
      decodeManifestFile('deployments/web.yaml', text).errors.map((e) => e.format());
    const refused = [`deployments/web.yaml:1:1: invalid YAML: nested more than ${MAX_DEPTH} levels deep`];
    expect(message(deep(MAX_DEPTH + 1))).toEqual(refused);
    expect(message(deep(10_000))).toEqual(refused);
    // At the start of its document (the second here).
    expect(message(`${HEAD}---\n${deep(10_000)}`)).toContain(
      `deployments/web.yaml:2:1: invalid YAML: nested more than ${MAX_DEPTH} levels deep`,
    );
    expect(message(deep(MAX_DEPTH))[0]).toContain('expected a mapping');
  });

  it('points into an anchor for a field reached through an alias', () => {
    const text = `${HEAD}kind: Deployment\nmetadata:\n  name: web\n  labels: &l\n    a: "1"\n  annotations: *l\nspec:\n  image: nginx:1\n`;
    const res = decodeManifestFile('deployments/web.yaml', text);
    const obj = res.objects[0]!;
    expect(res.errors).toEqual([]);
    expect(res.locate(obj, ['metadata', 'annotations', 'a'])).toEqual({
      file: 'deployments/web.yaml',
      line: 6,
      col: 5,
    });
    expect(res.locate(obj, ['metadata', 'annotations', 'nope'])).toEqual({
      file: 'deployments/web.yaml',
      line: 7,
      col: 3,
    });
  });

  it('keeps the good documents beside one without a spec', () => {
    const good = dep('  image: nginx:1\n');
    const res = decodeManifestFile(
      'deployments/web.yaml',
      `${good}---\n${HEAD}kind: Deployment\nmetadata:\n  name: other\n`,
    );
    expect(res.objects.map((o) => o.metadata.name)).toEqual(['web']);
    expect(res.errors.map((e) => e.format())).toEqual(['deployments/web.yaml:8:1: spec: required field']);
  });
});

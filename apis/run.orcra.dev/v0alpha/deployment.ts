/**
 * Deployment: one container on each selected node, from an image or built from source, with
 * published ports, volumes, env and HTTP probes. Field names and defaults are upstream's;
 * imagePullPolicy, protocol, readOnly and probe tuning are ours.
 */
import { z } from 'zod';
import type { ApiObject } from './meta.ts';
import { API_VERSION } from './meta.ts';
import {
  NonEmpty,
  ObjectMetaSchema,
  ObjectStatusFields,
  Placement,
  Port,
  expected,
  showValue,
} from './fields.ts';

const NAME_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const IMAGE_REF = new RegExp(
  `^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?${NAME_COMPONENT}(?:/${NAME_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`,
);

/** A Docker image reference: `nginx:alpine`, `ghcr.io/org/app:1.2`, `app@sha256:...`. */
export const ImageRef = z
  .string({ error: expected('an image reference like "nginx:alpine"') })
  .regex(IMAGE_REF, { error: expected('an image reference like "nginx:alpine"') });

const HTTP_PROBE = /^(?:(https?):\/\/)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):([0-9]{1,5})(\/\S*)?$/;

/** A parsed `health.*.http` target, as the container sees itself. */
export interface HttpProbeTarget {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** Always starts with `/`. */
  path: string;
}

/**
 * Splits `localhost:80/health` (optionally `http://...`) into its parts; undefined when malformed.
 *
 * @example parseHttpProbe('localhost:80/health') // { scheme: 'http', host: 'localhost', port: 80, path: '/health' }
 */
export function parseHttpProbe(text: string): HttpProbeTarget | undefined {
  const m = HTTP_PROBE.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { scheme: m[1] === 'https' ? 'https' : 'http', host: m[2] ?? '', port, path: m[4] ?? '/' };
}

const Seconds = (what: string) => z.int({ error: expected(what) }).min(1, { error: expected(what) });

/** Probe tuning follows Kubernetes' names and defaults. */
export const PROBE_DEFAULTS = { periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 } as const;

export const ProbeSchema = z.strictObject(
  {
    http: z
      .string({ error: expected('"host:port/path" like "localhost:80/health"') })
      .refine((s) => parseHttpProbe(s) !== undefined, {
        error: expected('"host:port/path" like "localhost:80/health"'),
      })
      .describe('URL as the container sees itself, e.g. localhost:80/health. Any 2xx or 3xx passes.'),
    periodSeconds: Seconds('a whole number of seconds >= 1')
      .default(PROBE_DEFAULTS.periodSeconds)
      .describe('Seconds between probes. Default: 10.'),
    timeoutSeconds: Seconds('a whole number of seconds >= 1')
      .default(PROBE_DEFAULTS.timeoutSeconds)
      .describe('Seconds before one probe times out. Default: 1.'),
    failureThreshold: Seconds('an integer >= 1')
      .default(PROBE_DEFAULTS.failureThreshold)
      .describe('Consecutive failures before the probe counts as failed. Default: 3.'),
  },
  { error: expected('a mapping with http') },
);
export type Probe = z.output<typeof ProbeSchema>;

export const IMAGE_PULL_POLICIES = ['IfNotPresent', 'Always', 'Never'] as const;
export type ImagePullPolicy = (typeof IMAGE_PULL_POLICIES)[number];

export const BUILD_MODES = ['build-once', 'always'] as const;
export type BuildMode = (typeof BUILD_MODES)[number];

const RelPath = NonEmpty.refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), {
  error: expected("a relative path without '..'"),
});

const EnvName = z.string().regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/, {
  error: expected("an environment variable name (letters, digits, '_', '-' and '.')"),
});
const StringMap = z.record(
  EnvName,
  z
    .string({
      error: (iss) =>
        typeof iss.input === 'number' || typeof iss.input === 'boolean'
          ? `expected string, got ${typeof iss.input} ${showValue(iss.input)} (quote it: "${showValue(iss.input)}")`
          : `expected string, got ${showValue(iss.input)}`,
    })
    // The kernel takes environment strings NUL-terminated: runc refuses one with a NUL inside,
    // and no retry would ever start the container.
    .refine((v) => !v.includes('\0'), { error: 'must not contain a NUL character (\\0)' }),
  { error: expected('a mapping of strings') },
);

const AbsPath = NonEmpty.regex(/^\//, { error: expected('an absolute path') });

/** A top-level key of the repository's root `secrets.yaml`. */
const SecretKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, {
  error: expected('a key of secrets.yaml (letters, digits, "_", "-" and ".")'),
});

/** `{secretKeyRef: KEY}`: the env value is secrets.yaml's `KEY`, decrypted on the node. */
export const SecretKeyRefSchema = z.strictObject(
  { secretKeyRef: SecretKey.describe('A top-level key of the root secrets.yaml (required).') },
  { error: expected('a string, or {secretKeyRef: KEY}') },
);
export type SecretKeyRef = z.output<typeof SecretKeyRefSchema>;

const EnvMap = z.record(
  EnvName,
  z.union(
    [
      z
        .string()
        // The kernel takes environment strings NUL-terminated: runc refuses one with a NUL inside,
        // and no retry would ever start the container.
        .refine((v) => !v.includes('\0'), { error: 'must not contain a NUL character (\\0)' }),
      SecretKeyRefSchema,
    ],
    {
      error: (iss) =>
        typeof iss.input === 'number' || typeof iss.input === 'boolean'
          ? `expected string, got ${typeof iss.input} ${showValue(iss.input)} (quote it: "${showValue(iss.input)}")`
          : typeof iss.input === 'object' && iss.input !== null && !Array.isArray(iss.input)
            ? 'expected {secretKeyRef: KEY} with KEY a top-level key of secrets.yaml'
            : `expected string or {secretKeyRef: KEY}, got ${showValue(iss.input)}`,
    },
  ),
  { error: expected('a mapping of strings') },
);

/** Where secret files are mounted in the container (read-only, from a tmpfs on the node). */
export const SECRET_FILES_DIR = '/run/secrets';

const FileName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, {
  error: expected('a file name (letters, digits, "_", "-" and ".", no "/")'),
});

export const SecretFileSchema = z.strictObject(
  {
    key: SecretKey.describe('The secrets.yaml key whose value is the file content (required).'),
    name: FileName.optional().describe(
      `File name under ${SECRET_FILES_DIR}/ in the container. Default: the key.`,
    ),
  },
  { error: expected('a mapping with key') },
);
export type SecretFile = z.output<typeof SecretFileSchema>;

export const BuildSchema = z.strictObject(
  {
    context: RelPath.describe('Build context, relative to the Node codeDir (required).'),
    dockerfile: RelPath.optional().describe('Dockerfile, relative to the context. Default: Dockerfile.'),
    args: StringMap.optional().describe('Build arguments (--build-arg); values are strings.'),
    buildMode: z
      .enum(BUILD_MODES, { error: expected('one of "build-once", "always"') })
      .default('build-once')
      .describe(
        'build-once: build when no image exists for this spec; always: rebuild on every new commit. Default: build-once.',
      ),
  },
  { error: expected('a mapping with context') },
);
export type Build = z.output<typeof BuildSchema>;

export const PortMappingSchema = z.strictObject(
  {
    containerPort: Port.describe('Port inside the container (required).'),
    port: Port.describe('Host port it is published on (required).'),
    protocol: z
      .enum(['tcp', 'udp'], { error: expected('one of "tcp", "udp"') })
      .default('tcp')
      .describe('Default: tcp.'),
  },
  { error: expected('a mapping with containerPort and port') },
);
export type PortMapping = z.output<typeof PortMappingSchema>;

export const VolumeSchema = z.strictObject(
  {
    hostPath: AbsPath.describe('Directory or file on the host (required). Never deleted by orun.'),
    containerPath: AbsPath.describe('Where it is mounted in the container (required).'),
    readOnly: z
      .boolean({ error: expected('true or false') })
      .default(false)
      .describe('Default: false.'),
  },
  { error: expected('a mapping with hostPath and containerPath') },
);
export type Volume = z.output<typeof VolumeSchema>;

export const DeploymentSpecSchema = z
  .strictObject(
    {
      image: ImageRef.optional().describe('Image to run. Exactly one of image or build is required.'),
      imagePullPolicy: z
        .enum(IMAGE_PULL_POLICIES, { error: expected('one of "IfNotPresent", "Always", "Never"') })
        .optional()
        .describe(
          'Default: Always for :latest or untagged images, else IfNotPresent (see effectiveImagePullPolicy).',
        ),
      build: BuildSchema.optional().describe('Build the image on the node instead of pulling one.'),
      ports: z
        .array(PortMappingSchema, { error: expected('a list of ports') })
        .default([])
        .describe('Published ports. Default: none.'),
      volumes: z
        .array(VolumeSchema, { error: expected('a list of volumes') })
        .default([])
        .describe('Bind mounts. Default: none.'),
      env: EnvMap.default({}).describe(
        'Environment variables: strings (may be inline SOPS ENC[...] values), or {secretKeyRef: KEY} for a key of the root secrets.yaml. Explicit values win over envFrom.',
      ),
      envFrom: z
        .array(
          z.strictObject(
            {
              secretRef: z
                .literal('secrets.yaml', { error: expected('"secrets.yaml"') })
                .describe('Every top-level key of the root secrets.yaml becomes an env var.'),
            },
            { error: expected('a mapping with secretRef') },
          ),
          { error: expected('a list like [{secretRef: secrets.yaml}]') },
        )
        .optional()
        .describe(
          'Orcra\'s "all of secrets.yaml as env": every top-level key of the root secrets.yaml. Default: none (only what env references).',
        ),
      secretFiles: z
        .array(SecretFileSchema, { error: expected('a list of {key, name?}') })
        .optional()
        .describe(
          `secrets.yaml keys mounted read-only as files (mode 0400) at ${SECRET_FILES_DIR}/<name>, from a tmpfs on the node. Default: none.`,
        ),
      health: z
        .strictObject(
          {
            readiness: ProbeSchema.optional().describe(
              'Ready once this passes; Services route only to ready containers.',
            ),
            liveness: ProbeSchema.optional().describe('The container is restarted when this fails.'),
          },
          { error: expected('a mapping with readiness and/or liveness') },
        )
        .optional(),
      ...Placement,
    },
    { error: expected('a mapping') },
  )
  // `when: () => true` runs these even when a field failed, so the spec may be anything here
  // (missing, null, a scalar): each check reads it only through `specFields`.
  .refine((s) => !(specFields(s).image !== undefined && specFields(s).build !== undefined), {
    path: ['build'],
    message: 'image and build are mutually exclusive; set only one',
    when: () => true,
  })
  .refine((s) => s.image !== undefined || s.build !== undefined, {
    message: 'one of image or build is required',
    when: (p) => typeof p.value === 'object' && p.value !== null,
  })
  .refine((s) => specFields(s).build === undefined || specFields(s).imagePullPolicy === undefined, {
    path: ['imagePullPolicy'],
    message: 'applies to image only; a built image is never pulled',
    when: () => true,
  });
export type DeploymentSpec = z.output<typeof DeploymentSpecSchema>;

/** The fields of a spec that may not have decoded: empty for anything but a mapping. */
function specFields(s: unknown): { image?: unknown; build?: unknown; imagePullPolicy?: unknown } {
  return typeof s === 'object' && s !== null ? s : {};
}

export const ProbeResultSchema = z.object({
  probe: z.enum(['readiness', 'liveness']),
  time: z.string(),
  ok: z.boolean(),
  statusCode: z.int().optional(),
  message: z.string().optional(),
});
export type ProbeResult = z.output<typeof ProbeResultSchema>;

export const DeploymentStatusSchema = z.object({
  ...ObjectStatusFields,
  containerID: z.string().optional(),
  containerName: z.string().optional(),
  /** The image reference run and its resolved id (sha256:...). */
  image: z.string().optional(),
  imageID: z.string().optional(),
  /** Ports actually published. */
  ports: z
    .array(z.object({ containerPort: z.int(), port: z.int(), protocol: z.enum(['tcp', 'udp']) }))
    .optional(),
  restarts: z.int().optional(),
  ready: z.boolean().optional(),
  startedAt: z.string().optional(),
  lastProbe: ProbeResultSchema.optional(),
});
export type DeploymentStatus = z.output<typeof DeploymentStatusSchema>;

export const DeploymentManifestSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Deployment'),
  metadata: ObjectMetaSchema,
  spec: DeploymentSpecSchema,
});

export type Deployment = ApiObject<'Deployment', DeploymentSpec, DeploymentStatus>;

/** The tag of an image reference (`latest` when it has none), or undefined for a digest reference. */
export function imageTag(image: string): string | undefined {
  if (image.includes('@')) return undefined;
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  return colon < 0 ? 'latest' : image.slice(colon + 1);
}

/**
 * The pull policy in force: the spec's `imagePullPolicy` when set; otherwise `Always` for an
 * untagged or `:latest` image (as Kubernetes does), else `IfNotPresent`. A built image is `Never` pulled.
 *
 * @example effectiveImagePullPolicy({ image: 'nginx' }) // 'Always'
 * @example effectiveImagePullPolicy({ image: 'orun-test/busybox:1' }) // 'IfNotPresent'
 */
export function effectiveImagePullPolicy(
  spec: Pick<DeploymentSpec, 'image' | 'imagePullPolicy' | 'build'>,
): ImagePullPolicy {
  if (spec.build !== undefined || spec.image === undefined) return 'Never';
  if (spec.imagePullPolicy !== undefined) return spec.imagePullPolicy;
  return imageTag(spec.image) === 'latest' ? 'Always' : 'IfNotPresent';
}

/**
 * Deployment: one container on each selected node, from an image or built from source, with
 * ports, volumes, env and probes. Field names and defaults are upstream's; the rest (command,
 * args, probes of kind tcp/exec and their tuning, resources, strategy, progressDeadlineSeconds,
 * imagePullPolicy, hostIP, a hostPath's type) are named as Kubernetes names them, and
 * stopSignal/stopGracePeriod as Compose does (Kubernetes has no such fields).
 */
import { z } from 'zod';
import type { ApiObject } from './meta.ts';
import { API_VERSION } from './meta.ts';
import {
  Duration,
  NonEmpty,
  ObjectMetaSchema,
  ObjectStatusFields,
  Placement,
  Port,
  expected,
  showValue,
} from './fields.ts';
import { ProbeSchema } from './probe.ts';
import {
  HOST_PATH_TYPES,
  ResourcesSchema,
  StopSignal,
  StrategySchema,
  effectiveStrategy,
} from './workload.ts';

export {
  PROBE_DEFAULTS,
  ProbeSchema,
  parseHttpProbe,
  parseTcpProbe,
  probeAction,
  type HttpProbeTarget,
  type Probe,
  type ProbeAction,
  type TcpProbeTarget,
} from './probe.ts';

const NAME_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const IMAGE_REF = new RegExp(
  `^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?${NAME_COMPONENT}(?:/${NAME_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`,
);

/** A Docker image reference: `nginx:alpine`, `ghcr.io/org/app:1.2`, `app@sha256:...`. */
export const ImageRef = z
  .string({ error: expected('an image reference like "nginx:alpine"') })
  .regex(IMAGE_REF, { error: expected('an image reference like "nginx:alpine"') });

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

/** Default mode of a secret file: read by its owner only. */
export const DEFAULT_SECRET_FILE_MODE = 0o400;

const OwnerId = (what: 'uid' | 'gid') => {
  const error = expected(`a numeric ${what}, like 999 or "999"`);
  return z.union(
    [
      z.number({ error }).int({ error }).min(0, { error }).max(4294967294, { error }),
      z.string({ error }).regex(/^[0-9]{1,10}$/, { error }),
    ],
    { error },
  );
};

const FileMode = z
  .string({
    error: expected('an octal mode in quotes, like "0440" (YAML reads an unquoted 0440 as the number 440)'),
  })
  .regex(/^0?[0-7]{3}$/, { error: expected('an octal mode in quotes, like "0440"') });

export const SecretFileSchema = z.strictObject(
  {
    key: SecretKey.describe('The secrets.yaml key whose value is the file content (required).'),
    name: FileName.optional().describe(
      `File name under ${SECRET_FILES_DIR}/ in the container. Default: the key.`,
    ),
    uid: OwnerId('uid')
      .optional()
      .describe(
        "The file's owner, a numeric user id as in Compose's secrets long syntax. Default: 0 (root).",
      ),
    gid: OwnerId('gid').optional().describe("The file's group, a numeric group id. Default: 0 (root)."),
    mode: FileMode.optional().describe(
      'The file\'s permissions, octal in quotes (e.g. "0440"). Default: "0400" (its owner reads it).',
    ),
  },
  { error: expected('a mapping with key') },
);

/** A `secretFiles` entry's owner and mode, numeric (defaults applied). */
export function secretFileOwnership(f: Pick<SecretFile, 'uid' | 'gid' | 'mode'>): {
  uid: number;
  gid: number;
  mode: number;
} {
  return {
    uid: f.uid === undefined ? 0 : Number(f.uid),
    gid: f.gid === undefined ? 0 : Number(f.gid),
    mode: f.mode === undefined ? DEFAULT_SECRET_FILE_MODE : parseInt(f.mode, 8),
  };
}
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

export const PortMappingSchema = z
  .strictObject(
    {
      containerPort: Port.describe('Port inside the container (required).'),
      port: Port.optional().describe(
        'Host port it is published on. Default: none, so the port is internal: reachable by the ingress and by other Deployments on the node network, never published on the host.',
      ),
      hostIP: z
        .ipv4({ error: expected('an IPv4 address like "127.0.0.1"') })
        .optional()
        .describe('Host address the port is published on (with port). Default: 0.0.0.0 (every address).'),
      protocol: z
        .enum(['tcp', 'udp'], { error: expected('one of "tcp", "udp"') })
        .default('tcp')
        .describe('Default: tcp.'),
    },
    { error: expected('a mapping with containerPort') },
  )
  .refine(
    (p: unknown) => {
      const m = typeof p === 'object' && p !== null ? (p as { hostIP?: unknown; port?: unknown }) : {};
      return m.hostIP === undefined || m.port !== undefined;
    },
    { path: ['hostIP'], message: 'applies to a published port only; set port too', when: () => true },
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
    type: z
      .enum(HOST_PATH_TYPES, { error: expected('one of "DirectoryOrCreate", "Directory", "File", "Socket"') })
      .default('DirectoryOrCreate')
      .describe(
        'DirectoryOrCreate: created (empty, owned by root) when missing, as docker -v does; Directory, File, Socket: must already exist, else the Deployment stalls. Default: DirectoryOrCreate.',
      ),
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
      command: z
        .array(z.string({ error: expected('string') }), { error: expected('a list of strings') })
        .optional()
        .describe("Replaces the image's ENTRYPOINT (no shell). Default: the image's."),
      args: z
        .array(z.string({ error: expected('string') }), { error: expected('a list of strings') })
        .optional()
        .describe("Replaces the image's CMD (the arguments of command). Default: the image's."),
      workingDir: AbsPath.optional().describe("Working directory of the process. Default: the image's."),
      user: NonEmpty.optional().describe("user, uid, user:group or uid:gid. Default: the image's USER."),
      resources: ResourcesSchema.optional().describe('Memory and CPU limits. Default: none.'),
      stopSignal: StopSignal.optional().describe(
        "Signal that asks the app to stop. Default: the image's STOPSIGNAL, else SIGTERM.",
      ),
      stopGracePeriod: Duration.optional().describe(
        'Time between the stop signal and SIGKILL (replacing, pruning, liveness kill). Default: 10s.',
      ),
      strategy: StrategySchema.optional().describe(
        'How a new version replaces the running one. Default: RollingUpdate (start-first), or Recreate when a port has a fixed host port.',
      ),
      progressDeadlineSeconds: z
        .int({ error: expected('a whole number of seconds >= 1') })
        .min(1, { error: expected('a whole number of seconds >= 1') })
        .optional()
        .describe(
          'Seconds a new version has to become ready. Past it the new container is removed, the old one keeps serving, and the Deployment is Stalled (ProgressDeadlineExceeded) until the next commit. Default: 300.',
        ),
      ports: z
        .array(PortMappingSchema, { error: expected('a list of ports') })
        .default([])
        .describe('Container ports, published on the host when they have a port. Default: none.'),
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
        .array(SecretFileSchema, { error: expected('a list of {key, name?, uid?, gid?, mode?}') })
        .optional()
        .describe(
          `secrets.yaml keys mounted read-only as files at ${SECRET_FILES_DIR}/<name>, from a tmpfs on the node (owner uid/gid 0 and mode 0400 unless set). Default: none.`,
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
  })
  .refine((s) => !rollingWithHostPort(s), {
    path: ['strategy', 'type'],
    message:
      'RollingUpdate runs two containers at once, so no port may be published on a fixed host port; use Recreate, or drop port (the ingress reaches internal ports)',
    when: () => true,
  });
export type DeploymentSpec = z.output<typeof DeploymentSpecSchema>;

/** The fields of a spec that may not have decoded: empty for anything but a mapping. */
function specFields(s: unknown): {
  image?: unknown;
  build?: unknown;
  imagePullPolicy?: unknown;
  strategy?: unknown;
  ports?: unknown;
} {
  return typeof s === 'object' && s !== null ? s : {};
}

/** `strategy.type: RollingUpdate` with a port on a fixed host port (read defensively, see above). */
function rollingWithHostPort(s: unknown): boolean {
  const { strategy, ports } = specFields(s);
  const type =
    typeof strategy === 'object' && strategy !== null ? (strategy as { type?: unknown }).type : undefined;
  if (type !== 'RollingUpdate' || !Array.isArray(ports)) return false;
  return ports.some(
    (p: unknown) => typeof p === 'object' && p !== null && (p as { port?: unknown }).port !== undefined,
  );
}

export { effectiveStrategy };

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
  /** The serving container's address on the node network (the ingress proxies to it). */
  ip: z.string().optional(),
  /** The strategy in force (RollingUpdate or Recreate). */
  strategy: z.enum(['RollingUpdate', 'Recreate']).optional(),
  /** A new version being rolled out beside the serving container (RollingUpdate), until it serves. */
  rollout: z
    .object({ containerID: z.string(), containerName: z.string(), phase: z.string(), since: z.string() })
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

/**
 * Node: a server, how to reach it over SSH, which manifest repository and branch it tracks, how
 * often it polls and where it keeps state. Field names and defaults are upstream's.
 */
import { z } from 'zod';
import type { ApiObject } from './meta.ts';
import { API_VERSION } from './meta.ts';
import { Duration, NodeMetaSchema, NonEmpty, ObjectStatusFields, Port, expected } from './fields.ts';

const AbsPath = NonEmpty.regex(/^(\/|~\/)/, {
  error: expected('an absolute path (or one starting with ~/)'),
});

const SSH_KEY_TYPES = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

/** `principal [options] key-type base64-key [comment]` on one line (checked in linear time). */
function isAllowedSignerLine(line: string): boolean {
  if (line.length > 16_384 || /[\n\r]/.test(line)) return false;
  const words = line.trim().split(/\s+/);
  const i = words.findIndex((w, n) => n > 0 && SSH_KEY_TYPES.has(w));
  return i > 0 && /^[A-Za-z0-9+/]+={0,3}$/.test(words[i + 1] ?? '');
}

const AllowedSigner = NonEmpty.refine(isAllowedSignerLine, {
  error: expected('an allowed-signers line: "principal ssh-ed25519 AAAA... [comment]"'),
});

export const NodeSpecSchema = z.strictObject(
  {
    host: NonEmpty.describe('Host name or IP address used to reach the node over SSH (required).'),
    user: NonEmpty.default('root').describe('SSH user. Default: root.'),
    sshPort: Port.default(22).describe('SSH port. Default: 22.'),
    sshKeyPath: AbsPath.default('~/.ssh/id_ed25519').describe(
      'Private key used by `orun bootstrap`. Default: ~/.ssh/id_ed25519.',
    ),
    gitRepo: NonEmpty.describe('URL of the manifest repository, the `origin` remote (required).'),
    gitBranch: NonEmpty.default('main').describe(
      'Branch to track. `main` is production; any other branch is an environment named after it. Default: main.',
    ),
    pollInterval: Duration.default('5s').describe('How often to poll the repository. Default: 5s.'),
    dataDir: AbsPath.default('/opt/orun/').describe(
      'Where orun keeps its state on the node. Default: /opt/orun/.',
    ),
    codeDir: AbsPath.optional().describe(
      'Directory that Deployment build contexts resolve under. No default: builds need it.',
    ),
    allowedHostPaths: z
      .array(NonEmpty.regex(/^\//, { error: expected('an absolute path') }), {
        error: expected('a list of absolute paths'),
      })
      .optional()
      .describe(
        'Host paths Deployments may mount (each path and what is under it). Default: any path except /, /boot, /dev, /etc, /proc, /root, /sys, the Docker and containerd sockets and state, the data dir, and their parents.',
      ),
    verifyCommits: z
      .strictObject(
        {
          allowedSigners: z
            .array(AllowedSigner, { error: expected('a list of allowed-signers lines') })
            .min(1, { error: 'needs at least one signer' })
            .describe(
              'Lines of an SSH allowed-signers file (`principal [options] key-type base64-key [comment]`, as `git config gpg.ssh.allowedSignersFile` reads it).',
            ),
        },
        { error: expected('a mapping with allowedSigners') },
      )
      .optional()
      .describe(
        'Apply only commits signed (SSH signatures) by one of these keys. The signers in force are those of the Node at the last applied commit, so only an already trusted key can change them or remove this (turning verification off). `orun start --allowed-signers` overrides it. Default: commits are not verified.',
      ),
  },
  { error: expected('a mapping') },
);
export type NodeSpec = z.output<typeof NodeSpecSchema>;

/** One manifest problem as a Node reports it in status (see ManifestError). */
export const SourceErrorSchema = z.object({
  file: z.string(),
  line: z.int(),
  col: z.int(),
  path: z.string(),
  code: z.string(),
  message: z.string(),
});
export type SourceError = z.output<typeof SourceErrorSchema>;

export const NodeStatusSchema = z.object({
  ...ObjectStatusFields,
  /** The commit of the manifest repository last applied. */
  revision: z.string().optional(),
  /** The branch tracked, and the environment it maps to (`production` for main). */
  branch: z.string().optional(),
  environment: z.string().optional(),
  /** When the repository was last fetched successfully (RFC 3339). */
  lastSyncTime: z.string().optional(),
  /** When a fetch was last attempted, successful or not (RFC 3339). */
  lastAttemptTime: z.string().optional(),
  /** Manifest errors at `revision`; the files they name keep their last good objects. */
  sourceErrors: z.array(SourceErrorSchema).optional(),
});
export type NodeStatus = z.output<typeof NodeStatusSchema>;

export const NodeManifestSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Node'),
  metadata: NodeMetaSchema,
  spec: NodeSpecSchema,
});

export type Node = ApiObject<'Node', NodeSpec, NodeStatus>;

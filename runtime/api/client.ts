/**
 * The local API client orunctl uses: typed calls over the agent's unix socket, with watches and
 * log follows as async iterables. Failing to reach the agent is an OrunError that names the
 * socket tried and how to point elsewhere.
 */
import type http from 'node:http';
import net from 'node:net';
import { OrunError } from '../../apis/errors.ts';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { DIFF_PATH, type DiffRequest, type DiffResult } from './diff.ts';
import type { ResourceType } from './resources.ts';
import {
  API_PREFIX,
  EVENTS_PATH,
  SOURCE_RECONCILE_PATH,
  type EventRecord,
  type LogOptions,
  type ObjectList,
  type Status,
  type VersionInfo,
  type WatchEvent,
} from './types.ts';

/** Where orunctl and the agent look for the socket when neither --socket nor ORUN_SOCKET is set. */
export const DEFAULT_SOCKET_PATH = '/opt/orun/orun.sock';

/** The socket path: `explicit` (--socket), else $ORUN_SOCKET, else DEFAULT_SOCKET_PATH. */
export function resolveSocketPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit !== undefined && explicit !== '') return explicit;
  const fromEnv = env['ORUN_SOCKET'];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_SOCKET_PATH;
}

export interface ApiClientOptions {
  /** The agent's socket. */
  socketPath: string;
}

export interface ListOptions {
  labelSelector?: string;
}

export interface WatchOptions extends ListOptions {
  /** Only this object. */
  name?: string;
  /** Ends the watch. */
  signal?: AbortSignal;
}

/**
 * Error codes: `ApiUnavailable` (no agent answers on the socket), `ApiForbidden` (no permission
 * on the socket), `ApiNotFound` (404), `ApiBadRequest` (400), `ApiError` (anything else).
 * context.status holds the server's Status when there is one.
 */
export class ApiClient {
  readonly socketPath: string;

  constructor(options: ApiClientOptions) {
    this.socketPath = options.socketPath;
  }

  version(): Promise<VersionInfo> {
    return this.json('GET', '/version');
  }

  list(resource: ResourceType, options: ListOptions = {}): Promise<ObjectList> {
    return this.json('GET', objectsPath(resource) + query({ labelSelector: options.labelSelector }));
  }

  get(resource: ResourceType, name: string): Promise<ApiObject> {
    return this.json('GET', objectsPath(resource, name));
  }

  /** ADDED for each current object, then changes, until `signal` aborts or the agent stops. */
  watch(resource: ResourceType, options: WatchOptions = {}): AsyncIterable<WatchEvent> {
    const q = query({
      watch: 'true',
      labelSelector: options.labelSelector,
      fieldSelector: options.name === undefined ? undefined : `metadata.name=${options.name}`,
    });
    return this.ndjson<WatchEvent>(objectsPath(resource) + q, options.signal);
  }

  /** Events about one object, or all events. Oldest first. */
  async events(object?: { resource: ResourceType; name: string }): Promise<EventRecord[]> {
    const path = object === undefined ? EVENTS_PATH : `${objectsPath(object.resource, object.name)}/events`;
    return (await this.json<ObjectList<EventRecord>>('GET', path)).items;
  }

  watchEvents(options: { signal?: AbortSignal } = {}): AsyncIterable<WatchEvent<EventRecord>> {
    return this.ndjson<WatchEvent<EventRecord>>(EVENTS_PATH + query({ watch: 'true' }), options.signal);
  }

  reconcile(resource: ResourceType, name: string): Promise<Status> {
    return this.json('POST', `${objectsPath(resource, name)}/reconcile`);
  }

  /** Suspends (true) or resumes (false) an object, or the node (resource `nodes`). */
  suspend(resource: ResourceType, name: string, suspended: boolean): Promise<Status> {
    return this.json('POST', `${objectsPath(resource, name)}/${suspended ? 'suspend' : 'resume'}`);
  }

  /** What applying the manifest tree in `req.dir` would change on the node (`orun diff`). */
  diff(req: DiffRequest): Promise<DiffResult> {
    return this.json('POST', DIFF_PATH, JSON.stringify(req));
  }

  syncSource(): Promise<Status> {
    return this.json('POST', SOURCE_RECONCILE_PATH);
  }

  /**
   * Log lines (without newlines) of a Deployment or a ServiceGraph (`container`: one service;
   * without it every service, each line prefixed `[service] ` when there are several).
   */
  logs(
    resource: ResourceType,
    name: string,
    options: LogOptions & { signal?: AbortSignal } = {},
  ): AsyncIterable<string> {
    const q = query({
      follow: options.follow === true ? 'true' : undefined,
      tailLines: options.tailLines === undefined ? undefined : String(options.tailLines),
      container: options.container,
    });
    return this.lines(`${objectsPath(resource, name)}/log${q}`, options.signal);
  }

  private async json<T>(method: string, path: string, requestBody?: string): Promise<T> {
    const res = await this.exchange(method, path, requestBody);
    if (res.statusCode >= 400) throw this.httpError(res.statusCode, res.body, method, path);
    try {
      return JSON.parse(res.body) as T;
    } catch (err) {
      throw new OrunError('ApiError', `api: ${method} ${path}: invalid JSON response`, { cause: err });
    }
  }

  /**
   * One request and its whole response on a connection of its own (`Connection: close`), over
   * node:net: node:http (its parser, Agent and stream plumbing) is loaded only for a stream.
   * `orunctl get` spends a sixth less CPU.
   */
  private exchange(
    method: string,
    path: string,
    body?: string,
  ): Promise<{ statusCode: number; body: string }> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.socketPath);
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.once('error', (err) => reject(this.connectError(err)));
      socket.once('end', () => {
        socket.destroy();
        const res = parseResponse(Buffer.concat(chunks));
        if (res !== undefined) resolve(res);
        // What node:http says of a connection closed before a whole response.
        else reject(this.connectError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
      });
      const head =
        `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nConnection: close\r\n` +
        (body === undefined
          ? ''
          : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`);
      socket.write(`${head}\r\n${body ?? ''}`);
    });
  }

  private async *ndjson<T>(path: string, signal?: AbortSignal): AsyncIterable<T> {
    for await (const line of this.lines(path, signal)) {
      if (line.trim() === '') continue;
      const parsed = JSON.parse(line) as { type: string; object: unknown };
      if (parsed.type === 'ERROR') {
        const s = parsed.object as Status;
        throw new OrunError('ApiError', `api: watch ${path}: ${s.message}`, { context: { status: s } });
      }
      yield parsed as T;
    }
  }

  private async *lines(path: string, signal?: AbortSignal): AsyncIterable<string> {
    const res = await this.request('GET', path, signal);
    try {
      if ((res.statusCode ?? 500) >= 400)
        throw this.httpError(res.statusCode ?? 500, await readBody(res), 'GET', path);
      res.setEncoding('utf8');
      let rest = '';
      try {
        for await (const chunk of res as AsyncIterable<string>) {
          const parts = (rest + chunk).split('\n');
          rest = parts.pop() ?? '';
          yield* parts;
        }
      } catch (err) {
        if (signal?.aborted === true) return;
        throw new OrunError(
          'ApiUnavailable',
          `api: stream ${path} from ${this.socketPath} broke: ${String(err)}`,
          { cause: err },
        );
      }
      if (rest !== '') yield rest;
    } finally {
      res.destroy();
    }
  }

  private request(
    method: string,
    path: string,
    signal?: AbortSignal,
    body?: string,
  ): Promise<http.IncomingMessage> {
    // Loaded on first use: only streams (watch, logs) need it.
    const http = process.getBuiltinModule('node:http');
    return new Promise((resolve, reject) => {
      const req = http.request({
        // Our own connection, no Agent: the Agent derives a TLS server name from the host for
        // every request, and its IPv6 check compiled a large regex (10 % of `orunctl get`'s CPU).
        createConnection: () => net.connect(this.socketPath),
        method,
        path,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        signal,
      });
      req.once('response', resolve);
      req.once('error', (err) => reject(this.connectError(err)));
      req.end(body);
    });
  }

  private connectError(err: Error): OrunError {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = `point orunctl at another socket with --socket PATH or ORUN_SOCKET=PATH`;
    const context = { socketPath: this.socketPath, errno: code };
    if (code === 'EACCES' || code === 'EPERM') {
      return new OrunError(
        'ApiForbidden',
        `cannot access the orun agent's socket ${this.socketPath}: permission denied (run as root or as a member of the socket's group, or ${hint})`,
        { cause: err, context },
      );
    }
    if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ENOTSOCK') {
      const why = code === 'ENOENT' ? 'no such socket' : 'nothing is listening on it';
      return new OrunError(
        'ApiUnavailable',
        `cannot connect to the orun agent at ${this.socketPath}: ${why}. Is \`orun start\` running? Or ${hint}`,
        { cause: err, context },
      );
    }
    if (err.name === 'AbortError')
      return new OrunError('ApiAborted', `api: request aborted`, { cause: err, context });
    return new OrunError(
      'ApiUnavailable',
      `cannot connect to the orun agent at ${this.socketPath}: ${err.message} (${hint})`,
      {
        cause: err,
        context,
      },
    );
  }

  private httpError(code: number, body: string, method: string, path: string): OrunError {
    let s: Status | undefined;
    try {
      const parsed = JSON.parse(body) as Partial<Status>;
      if (parsed.kind === 'Status') s = parsed as Status;
    } catch {
      s = undefined;
    }
    const kind = code === 404 ? 'ApiNotFound' : code === 400 ? 'ApiBadRequest' : 'ApiError';
    const message = s?.message ?? `${method} ${path}: HTTP ${code}`;
    return new OrunError(kind, message, { context: { status: s, code } });
  }
}

function objectsPath(resource: ResourceType, name?: string): string {
  return `${API_PREFIX}/${resource.plural}${name === undefined ? '' : '/' + encodeURIComponent(name)}`;
}

function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

async function readBody(res: http.IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let body = '';
  for await (const chunk of res as AsyncIterable<string>) body += chunk;
  return body;
}

/**
 * A whole HTTP/1.1 response (status line, headers, then a body of Content-Length bytes, chunked,
 * or up to the end of the connection), else undefined (cut short).
 */
export function parseResponse(raw: Buffer): { statusCode: number; body: string } | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (m === null) return undefined;
  const headers = new Map(
    lines.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  );
  let body: Buffer | undefined = raw.subarray(end + 4);
  const length = headers.get('content-length');
  if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) body = dechunk(body);
  else if (length !== undefined)
    body = body.length < Number(length) ? undefined : body.subarray(0, Number(length));
  return body === undefined ? undefined : { statusCode: Number(m[1]), body: body.toString('utf8') };
}

/** The data of a chunked body, else undefined (no last chunk). */
function dechunk(raw: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  for (let at = 0; ;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(raw.subarray(at, eol).toString('latin1'), 16);
    if (Number.isNaN(size) || raw.length < eol + 2 + size) return undefined;
    if (size === 0) return Buffer.concat(parts);
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 4 + size;
  }
}

/**
 * The local API: Kubernetes-shaped HTTP/1.1 + JSON routes over an ApiBackend. Every object is
 * redacted before it is written (see redact.ts); watches and logs stream NDJSON / text lines and
 * stop when the client goes away or the server closes.
 *
 *   GET  /version
 *   GET  /apis/run.orcra.dev/v0alpha/{plural}[?labelSelector=&watch=true&fieldSelector=metadata.name=N]
 *   GET  /apis/run.orcra.dev/v0alpha/{plural}/{name}[?watch=true]
 *   GET  /apis/run.orcra.dev/v0alpha/{plural}/{name}/events
 *   POST /apis/run.orcra.dev/v0alpha/{plural}/{name}/reconcile
 *   POST /apis/run.orcra.dev/v0alpha/{plural}/{name}/suspend|resume
 *   GET  /apis/run.orcra.dev/v0alpha/deployments/{name}/log[?follow=true&tailLines=N]
 *   GET  /apis/run.orcra.dev/v0alpha/servicegraphs/{name}/log[?container=SERVICE&follow=true&tailLines=N]
 *        (without container: every service, lines prefixed `[service] `; an unknown one: 400)
 *   GET  /api/v1/events[?watch=true]
 *   POST /apis/source/reconcile
 *   POST /apis/diff  {"dir": "/abs/path", "label"?: "..."}  → DiffResult
 */
import http from 'node:http';
import { from, type ObservableInput } from 'rxjs';
import { errorMessage, isOrunError } from '../../apis/errors.ts';
import { API_VERSION, type ApiObject, type KindName } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { ApiBackend, EventFilter, LogKind } from './backend.ts';
import { DIFF_PATH, type DiffRequest } from './diff.ts';
import { redactObject, type RedactOptions } from './redact.ts';
import { resourceByPlural, type ResourceType } from './resources.ts';
import { matchesSelector, parseSelector, type LabelSelector } from './selector.ts';
import {
  API_PREFIX,
  EVENTS_PATH,
  SOURCE_RECONCILE_PATH,
  status,
  type EventRecord,
  type ObjectList,
  type Status,
  type WatchEvent,
} from './types.ts';

export interface ApiServerOptions {
  /** How to recognise secrets beyond inline `ENC[...]` values. Default: see redactObject. */
  redact?: RedactOptions;
  /** Told about a request that failed with a 500, for the agent's log. Default: nothing. */
  onError?: (err: unknown, request: { method: string; path: string }) => void;
}

class HttpError extends Error {
  readonly status: Status;
  constructor(s: Status) {
    super(s.message);
    this.status = s;
  }
}

const notFound = (what: string, name?: string, kind?: string): HttpError =>
  new HttpError(status(404, what, 'NotFound', name === undefined ? undefined : { name, kind }));

/** A node http.Server serving the local API from `backend`. Listen with listenUnixSocket. */
export function createApiServer(backend: ApiBackend, options: ApiServerOptions = {}): http.Server {
  const handler = new Handler(backend, options);
  return http.createServer((req, res) => {
    void handler.handle(req, res).catch((err: unknown) => {
      options.onError?.(err, { method: req.method ?? '', path: req.url ?? '' });
      res.destroy();
    });
  });
}

class Handler {
  private readonly backend: ApiBackend;
  private readonly options: ApiServerOptions;

  constructor(backend: ApiBackend, options: ApiServerOptions) {
    this.backend = backend;
    this.options = options;
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://orun');
    const method = req.method ?? 'GET';
    try {
      await this.route(method, url, res, req);
    } catch (err) {
      const s = toStatus(err);
      if (s.code >= 500) this.options.onError?.(err, { method, path: url.pathname });
      if (res.headersSent) res.end();
      else sendJson(res, s.code, s);
    }
  }

  private async route(
    method: string,
    url: URL,
    res: http.ServerResponse,
    req: http.IncomingMessage,
  ): Promise<void> {
    const path = url.pathname.replace(/\/+$/, '');
    const q = url.searchParams;
    if (path === DIFF_PATH) return only(method, 'POST', () => this.diff(res, req));
    if (path === '/version') return only(method, 'GET', () => this.version(res));
    if (path === EVENTS_PATH) return only(method, 'GET', () => this.events(res, {}, q));
    if (path === SOURCE_RECONCILE_PATH) return only(method, 'POST', () => this.syncSource(res));
    if (!path.startsWith(API_PREFIX + '/'))
      throw notFound('the server could not find the requested resource');
    const [plural = '', name, sub, ...rest] = path
      .slice(API_PREFIX.length + 1)
      .split('/')
      .map(decodeSegment);
    const resource = resourceByPlural(plural);
    if (resource === undefined || rest.length > 0)
      throw notFound('the server could not find the requested resource');
    if (name === undefined) return only(method, 'GET', () => this.list(res, resource, q));
    if (sub === undefined) return only(method, 'GET', () => this.get(res, resource, name, q));
    if (sub === 'events') return only(method, 'GET', () => this.objectEvents(res, resource, name, q));
    if (sub === 'reconcile') return only(method, 'POST', () => this.reconcile(res, resource, name));
    if (sub === 'suspend' || sub === 'resume')
      return only(method, 'POST', () => this.suspend(res, resource, name, sub === 'suspend'));
    const logKind =
      resource.kind === 'Deployment' || resource.kind === 'ServiceGraph' ? resource.kind : undefined;
    if (sub === 'log' && logKind !== undefined)
      return only(method, 'GET', () => this.logs(res, resource, logKind, name, q));
    throw notFound('the server could not find the requested resource');
  }

  private async version(res: http.ServerResponse): Promise<void> {
    sendJson(res, 200, await this.backend.version());
  }

  private async list(res: http.ServerResponse, resource: ResourceType, q: URLSearchParams): Promise<void> {
    const selector = parseSelector(q.get('labelSelector') ?? undefined);
    const name = nameFromFieldSelector(q.get('fieldSelector'));
    if (q.get('watch') === 'true') return this.watch(res, resource.kind, selector, name);
    const items = (await this.backend.list(resource.kind, selector)).filter(
      (o) => matchesSelector(selector, o.metadata.labels) && (name === undefined || o.metadata.name === name),
    );
    const list: ObjectList = {
      apiVersion: API_VERSION,
      kind: `${resource.kind}List`,
      items: items.map((o) => this.redact(o)),
    };
    sendJson(res, 200, list);
  }

  private async get(
    res: http.ServerResponse,
    resource: ResourceType,
    name: string,
    q: URLSearchParams,
  ): Promise<void> {
    if (q.get('watch') === 'true')
      return this.watch(res, resource.kind, parseSelector(q.get('labelSelector') ?? undefined), name);
    const obj = await this.mustGet(resource, name);
    sendJson(res, 200, this.redact(obj));
  }

  private async objectEvents(
    res: http.ServerResponse,
    resource: ResourceType,
    name: string,
    q: URLSearchParams,
  ): Promise<void> {
    await this.mustGet(resource, name);
    return this.events(res, { kind: resource.kind, name }, q);
  }

  private async events(res: http.ServerResponse, filter: EventFilter, q: URLSearchParams): Promise<void> {
    if (q.get('watch') === 'true') {
      return stream(
        res,
        'application/x-ndjson',
        (signal) => this.backend.watchEvents(filter, signal),
        (e: WatchEvent<EventRecord>) => JSON.stringify(e),
      );
    }
    const list: ObjectList<EventRecord> = {
      apiVersion: 'v1',
      kind: 'EventList',
      items: [...(await this.backend.events(filter))],
    };
    sendJson(res, 200, list);
  }

  private async reconcile(res: http.ServerResponse, resource: ResourceType, name: string): Promise<void> {
    if (!(await this.backend.reconcile(resource.kind, name)))
      throw notFound(`${resource.plural} "${name}" not found`, name, resource.plural);
    sendJson(res, 202, status(202, `${resource.singular}/${name} reconcile requested`));
  }

  private async suspend(
    res: http.ServerResponse,
    resource: ResourceType,
    name: string,
    suspended: boolean,
  ): Promise<void> {
    if (this.backend.suspend === undefined)
      throw new HttpError(status(501, 'this agent cannot suspend objects', 'NotImplemented'));
    if (!(await this.backend.suspend(resource.kind, name, suspended)))
      throw notFound(`${resource.plural} "${name}" not found`, name, resource.plural);
    const verb = suspended ? 'suspended' : 'resumed';
    sendJson(res, 200, status(200, `${resource.singular}/${name} ${verb}`));
  }

  private async diff(res: http.ServerResponse, req: http.IncomingMessage): Promise<void> {
    if (this.backend.diff === undefined)
      throw new HttpError(status(501, 'this agent cannot diff', 'NotImplemented'));
    const body = await readJson(req, 64 * 1024);
    const r = body as Partial<DiffRequest> | undefined;
    if (typeof r?.dir !== 'string' || !r.dir.startsWith('/'))
      throw new HttpError(status(400, 'diff: expected {"dir": "/absolute/path"}', 'BadRequest'));
    const label = typeof r.label === 'string' ? { label: r.label } : {};
    sendJson(res, 200, await this.backend.diff({ dir: r.dir, ...label }));
  }

  private async syncSource(res: http.ServerResponse): Promise<void> {
    await this.backend.syncSource();
    sendJson(res, 202, status(202, 'source reconcile requested'));
  }

  private async logs(
    res: http.ServerResponse,
    resource: ResourceType,
    kind: LogKind,
    name: string,
    q: URLSearchParams,
  ): Promise<void> {
    const tail = q.get('tailLines');
    const tailLines = tail === null ? undefined : Number(tail);
    if (tailLines !== undefined && !(Number.isInteger(tailLines) && tailLines >= 0)) {
      throw new HttpError(
        status(400, `tailLines must be a non-negative integer, got ${JSON.stringify(tail)}`, 'BadRequest'),
      );
    }
    await this.mustGet(resource, name);
    const container = q.get('container') ?? undefined;
    const options = {
      follow: q.get('follow') === 'true',
      ...(tailLines === undefined ? {} : { tailLines }),
      ...(container === undefined || container === '' ? {} : { container }),
    };
    // Opened before the headers: an unknown service is still an error status.
    const ac = new AbortController();
    res.once('close', () => ac.abort());
    const lines = await this.backend.logs(kind, name, options, ac.signal);
    return stream(
      res,
      'text/plain; charset=utf-8',
      () => lines,
      (line: string) => line,
    );
  }

  private watch(
    res: http.ServerResponse,
    kind: KindName,
    selector: LabelSelector,
    name: string | undefined,
  ): Promise<void> {
    const select = watchFilter(selector, name);
    return stream(
      res,
      'application/x-ndjson',
      (signal) => this.backend.watch(kind, signal),
      (e: WatchEvent) => {
        const selected = select(e);
        return selected === undefined
          ? undefined
          : JSON.stringify({ type: selected.type, object: this.redact(selected.object) });
      },
    );
  }

  private async mustGet(resource: ResourceType, name: string): Promise<ApiObject> {
    const obj = await this.backend.get(resource.kind, name);
    if (obj === undefined) throw notFound(`${resource.plural} "${name}" not found`, name, resource.plural);
    return obj;
  }

  private redact(obj: ApiObject): ApiObject {
    return redactObject(obj, this.options.redact);
  }
}

async function only(method: string, allowed: string, run: () => Promise<void>): Promise<void> {
  if (method !== allowed)
    throw new HttpError(status(405, `method ${method} not allowed; use ${allowed}`, 'MethodNotAllowed'));
  return run();
}

function nameFromFieldSelector(fieldSelector: string | null): string | undefined {
  if (fieldSelector === null || fieldSelector === '') return undefined;
  const m = /^metadata\.name==?(.+)$/.exec(fieldSelector);
  if (m === null)
    throw new HttpError(
      status(
        400,
        `field selector ${JSON.stringify(fieldSelector)}: only metadata.name=NAME is supported`,
        'BadRequest',
      ),
    );
  return m[1];
}

/**
 * Turns the backend's stream of a kind into the stream a client asked for: only objects that
 * match, with ADDED/DELETED synthesised when a label change moves an object in or out.
 */
export function watchFilter(
  selector: LabelSelector,
  name?: string,
): (e: WatchEvent) => WatchEvent | undefined {
  const seen = new Set<string>();
  return (e) => {
    const key = e.object.metadata.name;
    if (name !== undefined && key !== name) return undefined;
    const was = seen.has(key);
    if (e.type === 'DELETED') {
      seen.delete(key);
      return was ? e : undefined;
    }
    if (matchesSelector(selector, e.object.metadata.labels)) {
      seen.add(key);
      return { type: was ? 'MODIFIED' : 'ADDED', object: e.object };
    }
    if (!was) return undefined;
    seen.delete(key);
    return { type: 'DELETED', object: e.object };
  };
}

/**
 * Streams `open(signal)` as lines until it completes, fails (an ERROR line for NDJSON) or the
 * client goes away (then `signal` aborts and the subscription ends).
 */
function stream<T>(
  res: http.ServerResponse,
  contentType: string,
  open: (signal: AbortSignal) => ObservableInput<T>,
  line: (item: T) => string | undefined,
): Promise<void> {
  const ac = new AbortController();
  res.writeHead(200, {
    'content-type': contentType,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  res.flushHeaders();
  return new Promise<void>((resolve) => {
    const subscription = from(open(ac.signal)).subscribe({
      next: (item) => {
        const text = line(item);
        if (text !== undefined) res.write(text + '\n');
      },
      error: (err: unknown) => {
        if (contentType === 'application/x-ndjson')
          res.write(JSON.stringify({ type: 'ERROR', object: toStatus(err) }) + '\n');
        res.end();
        resolve();
      },
      complete: () => {
        res.end();
        resolve();
      },
    });
    res.once('close', () => {
      ac.abort();
      subscription.unsubscribe();
      resolve();
    });
  });
}

/** One path segment, percent-decoded; a malformed escape (`%zz`, a lone `%`) is the client's error: 400. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(status(400, 'malformed percent-escape in the request path', 'BadRequest'));
  }
}

function toStatus(err: unknown): Status {
  if (err instanceof HttpError) return err.status;
  if (isOrunError(err, 'InvalidLabelSelector') || isOrunError(err, 'UnknownService'))
    return status(400, err.message, 'BadRequest');
  return status(500, errorMessage(err), 'InternalError');
}

/** A JSON request body of at most `limit` bytes (400 otherwise). */
async function readJson(req: http.IncomingMessage, limit: number): Promise<unknown> {
  let text = '';
  for await (const chunk of req as AsyncIterable<Buffer>) {
    text += chunk.toString('utf8');
    if (text.length > limit)
      throw new HttpError(status(400, `request body over ${limit} bytes`, 'BadRequest'));
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(status(400, 'request body is not JSON', 'BadRequest'));
  }
}

function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

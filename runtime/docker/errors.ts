/**
 * The one place that reads the engine's error text: Docker reports several distinct failures with
 * the same HTTP status, so the adapter turns them into stable codes here and nobody above it ever
 * branches on a message.
 */
import { OrunError } from '../../apis/errors.ts';
import { DockerErrorCode } from './engine.ts';

interface EngineErrorShape {
  statusCode?: number;
  code?: string;
  json?: unknown;
  reason?: string;
  message?: string;
}

const connectionCodes = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/** The engine's own message (`{"message": ...}` body) or the error's message. */
export function engineMessage(err: unknown): string {
  const e = (err ?? {}) as EngineErrorShape;
  const json = e.json as { message?: unknown } | string | undefined;
  if (json !== null && typeof json === 'object' && typeof json.message === 'string') return json.message;
  if (typeof json === 'string' && json.trim() !== '') return json.trim();
  if (err instanceof Buffer) return err.toString('utf8').trim();
  return e.message ?? String(err);
}

export function statusOf(err: unknown): number | undefined {
  const s = (err as EngineErrorShape | undefined)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** Which failure an engine error is, by status and text. */
export function classify(err: unknown): DockerErrorCode {
  const e = (err ?? {}) as EngineErrorShape;
  if (e.code !== undefined && connectionCodes.has(e.code)) return DockerErrorCode.Unavailable;
  const status = statusOf(err);
  const msg = engineMessage(err);
  if (/port is already allocated|address already in use/i.test(msg)) return DockerErrorCode.HostPortConflict;
  if (
    /invalid mount config|bind source path does not exist|invalid volume specification|mount denied|invalid characters for a local volume name/i.test(
      msg,
    )
  ) {
    return DockerErrorCode.InvalidMount;
  }
  // The OCI runtime cannot write the IO weight (no blkio.weight / io.weight / io.bfq.weight file).
  if (/blkio\.(bfq\.)?weight|io\.(bfq\.)?weight|block i\/o weight/i.test(msg)) {
    return DockerErrorCode.ResourceUnsupported;
  }
  if (
    /unable to find user|no matching entries in passwd|executable file not found|exec: "[^"]*": stat [^:]*: no such file or directory|exec format error|can't contain null/i.test(
      msg,
    )
  ) {
    return DockerErrorCode.CannotRun;
  }
  if (status === 409 && /already in use/i.test(msg)) return DockerErrorCode.NameConflict;
  if (status === 404 && /no such image/i.test(msg)) return DockerErrorCode.ImageNotFound;
  if (status === 404 && /no such container/i.test(msg)) return DockerErrorCode.ContainerNotFound;
  // Docker answers 400 (errdefs.InvalidParameter) for a configuration it will never accept.
  if (status === 400) return DockerErrorCode.InvalidSpec;
  return DockerErrorCode.RequestFailed;
}

/** Wraps an engine error as an OrunError: `docker: <step>: <engine message>`. */
export function toOrunError(
  step: string,
  err: unknown,
  context: Record<string, unknown> = {},
  code: DockerErrorCode = classify(err),
): OrunError {
  if (err instanceof OrunError) return err;
  const status = statusOf(err);
  return new OrunError(code, `docker: ${step}: ${engineMessage(err)}`, {
    cause: err,
    context: { ...context, ...(status === undefined ? {} : { httpStatus: status }) },
  });
}

/**
 * Byte-stream parsing for the Docker API: NDJSON (events, pull and build progress) and the
 * multiplexed log format. Chunks arrive split anywhere, including inside a line or a frame header.
 */

/** Splits chunks into lines (without `\n`, `\r\n` tolerated). A last unterminated line is emitted too. */
export async function* splitLines(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of source) {
    rest += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      yield stripCR(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
    }
  }
  rest += decoder.decode();
  if (rest !== '') yield stripCR(rest);
}

function stripCR(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** Parses NDJSON; blank lines are skipped, an unparsable line throws (with the line in the message). */
export async function* ndjson(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<unknown> {
  for await (const line of splitLines(source)) {
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line) as unknown;
    } catch (err) {
      throw new Error(`invalid JSON line from the engine: ${line.slice(0, 200)}`, { cause: err });
    }
  }
}

export interface DemuxedChunk {
  stream: 'stdout' | 'stderr';
  data: Uint8Array;
}

/**
 * Docker's multiplexed stream (no TTY): frames of an 8-byte header `[type, 0, 0, 0, size(u32 BE)]`
 * then `size` bytes. Type 1 is stdout, 2 stderr (0, stdin, is treated as stdout).
 */
export async function* demux(source: AsyncIterable<Uint8Array>): AsyncGenerator<DemuxedChunk> {
  let buf: Uint8Array = new Uint8Array(0);
  for await (const chunk of source) {
    buf = concat(buf, chunk);
    while (buf.length >= 8) {
      const size = new DataView(buf.buffer, buf.byteOffset, 8).getUint32(4);
      if (buf.length < 8 + size) break;
      const stream = buf[0] === 2 ? 'stderr' : 'stdout';
      yield { stream, data: buf.slice(8, 8 + size) };
      buf = buf.subarray(8 + size);
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Demuxed chunks → whole lines per stream (a line split across frames is joined). */
export async function* demuxLines(
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<{ stream: 'stdout' | 'stderr'; line: string }> {
  const pending = { stdout: '', stderr: '' };
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  for await (const { stream, data } of demux(source)) {
    pending[stream] += decoders[stream].decode(data, { stream: true });
    let nl: number;
    while ((nl = pending[stream].indexOf('\n')) >= 0) {
      yield { stream, line: stripCR(pending[stream].slice(0, nl)) };
      pending[stream] = pending[stream].slice(nl + 1);
    }
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    const last = pending[stream] + decoders[stream].decode();
    if (last !== '') yield { stream, line: stripCR(last) };
  }
}

/**
 * Writing to file descriptor 1 or 2 directly: the first use of process.stdout or process.stderr
 * builds a stream and loads node:stream (for a pipe, node:net too), a sixth of `orch validate`'s
 * start-up. Used by the CLIs' entries (orch, orunctl's quick path).
 */
import { writeSync } from 'node:fs';

/**
 * Writes synchronously and in order, as the stdio streams do on Linux for files and pipes. If a
 * direct write fails (a full non-blocking pipe: EAGAIN; a closed one: EPIPE), what is left and
 * every later write go through `stream()`, which handles them as before.
 */
export function fdWriter(fd: 1 | 2, stream: () => NodeJS.WritableStream): (text: string) => void {
  let direct = true;
  return (text) => {
    let rest: string | Buffer = text;
    if (direct) {
      const buf = Buffer.from(text);
      let done = 0;
      try {
        while (done < buf.length) done += writeSync(fd, buf, done);
        return;
      } catch {
        direct = false;
        rest = buf.subarray(done);
      }
    }
    stream().write(rest);
  };
}

import { describe, expect, it } from 'vitest';
import { parseResponse } from './client.ts';

const res = (s: string): ReturnType<typeof parseResponse> => parseResponse(Buffer.from(s));

describe('parseResponse', () => {
  it('reads a body by Content-Length, chunked, or to the end', () => {
    expect(res('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n{}\n\n')).toEqual({
      statusCode: 200,
      body: '{}\n\n',
    });
    expect(res('HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}')).toEqual({
      statusCode: 404,
      body: '{}',
    });
    expect(
      parseResponse(
        Buffer.concat([
          Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n'),
          Buffer.from('abé'.slice(0, 2)),
          Buffer.from('é').subarray(0, 1),
          Buffer.from('\r\n1\r\n'),
          Buffer.from('é').subarray(1),
          Buffer.from('\r\n0\r\n\r\n'),
        ]),
      ),
    ).toEqual({ statusCode: 200, body: 'abé' });
    expect(res('HTTP/1.0 200 OK\r\n\r\nall of it')).toEqual({ statusCode: 200, body: 'all of it' });
  });

  it('is undefined for a response cut short', () => {
    expect(res('')).toBeUndefined();
    expect(res('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n')).toBeUndefined();
    expect(res('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}')).toBeUndefined();
    expect(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab')).toBeUndefined();
    expect(res('garbage\r\n\r\n')).toBeUndefined();
  });
});

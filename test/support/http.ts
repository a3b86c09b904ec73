/** Plain HTTP(S) requests to 127.0.0.1 as a given Host, for ingress tests (Caddy answers by Host/SNI). */
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  /** The served certificate (HTTPS only). */
  cert?: { issuer: string; serial: string };
}

/** An HTTPS GET to `address` (default 127.0.0.1) :port as `host` (SNI and Host), verifying against `ca` only. */
export function httpsGet(port: number, host: string, ca: string, address = '127.0.0.1'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: address,
        port,
        servername: host,
        headers: { host },
        ca,
        path: '/',
        agent: false,
        timeout: 5000,
      },
      (res) => {
        const peer = (res.socket as TLSSocket).getPeerCertificate();
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            headers: res.headers,
            cert: { issuer: String(peer.issuer.CN), serial: peer.serialNumber },
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** A plain HTTP GET to 127.0.0.1:port as `host`. */
export function httpGet(port: number, host: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, headers: { host }, path: '/', agent: false, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

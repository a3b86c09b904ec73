/**
 * Has Caddy got a certificate for a host yet? Caddy 2.6.2's admin API does not list managed
 * certificates, so this asks the way a client would: a TLS handshake to the HTTPS port with the
 * host as SNI. Until a certificate is obtained, Caddy aborts the handshake (alert 80); after, it
 * serves the certificate, whose names and dates are checked here. The chain is not verified:
 * the point is "does Caddy serve a certificate for this name", whichever CA issued it.
 */
import tls from 'node:tls';

export interface CertificateState {
  /** Caddy serves a certificate for the host that is valid now. */
  issued: boolean;
  /** Issuer common name, e.g. `R11` or `Pebble Intermediate CA 7106ce`. */
  issuer?: string;
  /** Expiry (RFC 3339). */
  notAfter?: string;
  /** What was seen, for status messages: `issued by R11, valid until ...`, or why not. */
  message: string;
}

export interface CertificateProbeOptions {
  /** The host name (SNI) whose certificate is wanted. */
  host: string;
  /** Where Caddy listens. Default `127.0.0.1`. */
  address?: string;
  /** Caddy's HTTPS port. */
  port: number;
  /** Default 3000 ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Default: `Date.now()`, for the validity check. */
  now?: () => number;
}

/** Never rejects: every failure is `{ issued: false, message }`. */
export function probeCertificate(o: CertificateProbeOptions): Promise<CertificateState> {
  const timeoutMs = o.timeoutMs ?? 3000;
  const now = o.now ?? Date.now;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (state: CertificateState): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(state);
    };
    const onAbort = (): void => finish({ issued: false, message: 'certificate check aborted' });
    const timer = setTimeout(
      () => finish({ issued: false, message: `TLS handshake with ${o.host} timed out after ${timeoutMs}ms` }),
      timeoutMs,
    );
    const socket = tls.connect({
      host: o.address ?? '127.0.0.1',
      port: o.port,
      servername: o.host,
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    socket.once('secureConnect', () => finish(inspect(o.host, socket.getPeerCertificate(), now())));
    socket.once('error', (err: Error) =>
      finish({ issued: false, message: `no certificate served for ${o.host} yet (${err.message})` }),
    );
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function inspect(host: string, cert: tls.PeerCertificate, now: number): CertificateState {
  if (cert === null || Object.keys(cert).length === 0)
    return { issued: false, message: `no certificate served for ${host}` };
  const issuer = firstString(cert.issuer?.CN) ?? firstString(cert.issuer?.O);
  const notAfter = new Date(cert.valid_to).toISOString();
  const mismatch = tls.checkServerIdentity(host, cert);
  if (mismatch !== undefined)
    return { issued: false, issuer, notAfter, message: `served certificate does not cover ${host}` };
  if (Date.parse(cert.valid_to) <= now || Date.parse(cert.valid_from) > now)
    return { issued: false, issuer, notAfter, message: `served certificate for ${host} is not valid now` };
  return {
    issued: true,
    issuer,
    notAfter,
    message: `issued by ${issuer ?? 'an unknown CA'}, valid until ${notAfter}`,
  };
}

function firstString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The CaddyAdmin contract, run against the fake (unit) and the real Caddy (test/ingress), so
 * the fake cannot drift from what Caddy 2.6.2 does.
 */
import { describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import type { CaddyAdmin } from './admin.ts';
import { buildCaddyConfig, type CaddyConfig } from './config.ts';

export interface CaddyAdminHarness {
  admin: CaddyAdmin;
  /** Adds what the real process needs to every config (its admin block and storage). */
  stamp(config: CaddyConfig): CaddyConfig;
  /** Free ports for the http app. */
  httpPort: number;
  httpsPort: number;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

export function describeCaddyAdminContract(name: string, harness: () => Promise<CaddyAdminHarness>): void {
  describe(`CaddyAdmin contract: ${name}`, () => {
    const configWith = (h: CaddyAdminHarness, upstream: string): CaddyConfig =>
      h.stamp(
        buildCaddyConfig({
          routes: [{ id: 'app', host: 'app.contract.test', upstream, tls: false }],
          httpPort: h.httpPort,
          httpsPort: h.httpsPort,
        }),
      );
    const serversOf = (c: CaddyConfig | null): unknown => (c?.apps as { http?: unknown } | undefined)?.http;

    it('loads a whole config and reads it back; a second load replaces it', async () => {
      const h = await harness();
      const first = configWith(h, '127.0.0.1:1111');
      await h.admin.load(first);
      expect(serversOf(await h.admin.config())).toEqual(serversOf(first));
      const second = configWith(h, '127.0.0.1:2222');
      await h.admin.load(second);
      expect(serversOf(await h.admin.config())).toEqual(serversOf(second));
    });

    it('rejects an unknown handler module with caddy.config_rejected and keeps the old config', async () => {
      const h = await harness();
      const good = configWith(h, '127.0.0.1:3333');
      await h.admin.load(good);
      const bad = JSON.parse(
        JSON.stringify(good).replace('"reverse_proxy"', '"no_such_handler"'),
      ) as CaddyConfig;
      const err = await rejection(h.admin.load(bad));
      expect(isOrunError(err, 'caddy.config_rejected')).toBe(true);
      expect((err as Error).message).toMatch(/^caddy: load config: /);
      expect((err as Error).message).toMatch(/unknown module: http\.handlers\.no_such_handler/);
      expect(serversOf(await h.admin.config())).toEqual(serversOf(good));
    });

    it('accepts duplicate @ids (caddy 2.6.2 does not check them: buildCaddyConfig must)', async () => {
      const h = await harness();
      const good = configWith(h, '127.0.0.1:4444');
      const dup = JSON.parse(
        JSON.stringify(good).replace('"orun-not-found"', '"orun-route-app"'),
      ) as CaddyConfig;
      await h.admin.load(dup);
      expect(serversOf(await h.admin.config())).toEqual(serversOf(dup));
    });
  });
}

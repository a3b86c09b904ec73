import { describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { describeCaddyAdminContract } from './admin.contract.ts';
import { FakeCaddyAdmin } from './fake.ts';

describeCaddyAdminContract('fake', () =>
  Promise.resolve({ admin: new FakeCaddyAdmin(), stamp: (c) => c, httpPort: 18080, httpsPort: 18443 }),
);

describe('FakeCaddyAdmin knobs', () => {
  it('is unavailable while down, and rejects once on rejectNext', async () => {
    const fake = new FakeCaddyAdmin();
    fake.down = true;
    await expect(fake.load({})).rejects.toSatisfy((e) => isOrunError(e, 'caddy.unavailable'));
    fake.down = false;
    fake.rejectNext('listening on :80: address already in use');
    await expect(fake.load({})).rejects.toThrow(
      'caddy: load config: listening on :80: address already in use',
    );
    await fake.load({ apps: {} });
    expect(fake.running).toEqual({ apps: {} });
    expect(fake.loads).toHaveLength(2); // calls while down never reached it
  });
});

import { describe, expect, it } from 'vitest';
import { redactUrls } from './redact.ts';

describe('redactUrls', () => {
  it.each([
    ['https://user:s3cret@example.com/repo.git', 'https://***@example.com/repo.git'],
    ['https://ghp_token@example.com/repo.git', 'https://***@example.com/repo.git'],
    ["fatal: unable to access 'http://a:b@h/r/': 403", "fatal: unable to access 'http://***@h/r/': 403"],
    ['ssh://git@example.com:22/repo.git', 'ssh://git@example.com:22/repo.git'],
    ['ssh://git:pw@example.com/repo.git', 'ssh://git:***@example.com/repo.git'],
    ['file:///srv/repo.git', 'file:///srv/repo.git'],
    ['/srv/repo.git', '/srv/repo.git'],
    ['git@github.com:org/repo.git', 'git@github.com:org/repo.git'],
  ])('%s', (input, want) => {
    expect(redactUrls(input)).toBe(want);
  });
});

/**
 * Credentials must never reach logs, status or metrics. Remotes may carry them as URL userinfo
 * (`https://user:token@host/repo`), and git echoes the URL in its errors, so every string that
 * leaves the git edge goes through `redactUrls`.
 */

// scheme://userinfo@  — userinfo is everything up to the last '@' before the host part.
const USERINFO_RE = /\b([a-z][a-z0-9+.-]*:\/\/)([^/\s@]+)@/gi;

/**
 * Replaces URL userinfo in `text`. For http(s) the whole userinfo is hidden (a token is often
 * given as the user name); for other schemes (ssh://git@host) only a password is hidden.
 */
export function redactUrls(text: string): string {
  return text.replace(USERINFO_RE, (_m, scheme: string, userinfo: string) => {
    if (/^https?:\/\/$/i.test(scheme)) return `${scheme}***@`;
    const colon = userinfo.indexOf(':');
    return colon < 0 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
}

// Upstream switches under fresh-connection load through the real Caddy (issue 10's reset): the
// design orun runs (upstreams by name, test/support/ingress-switch.ts) against the old one (a
// config /load per switch) in the same run, same switches, same clients.
// Run: node_modules/.bin/node bench/ingress-switch.ts   (SWITCHES=200 CONCURRENCY=8 by default)
import { loadavg } from 'node:os';
import { runSwitches, type SwitchResult } from '../test/support/ingress-switch.ts';
import { requireCommand } from '../test/support/services.ts';
import { fmt, machine, runBench, writeSection } from './support/agent-bench.ts';

const SWITCHES = Number(process.env.SWITCHES ?? 200);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);

function row(what: string, r: SwitchResult): string {
  return `| ${what} | ${fmt(r.switches)} | ${fmt(r.loads)} | ${fmt(r.seconds, 1)} | ${fmt(r.requests)} | ${fmt(r.byUpstream[0])} / ${fmt(r.byUpstream[1])} | **${fmt(r.resets)}** | ${fmt(r.otherErrors + r.non2xx)} |`;
}

async function main(): Promise<void> {
  requireCommand('caddy', 'caddy', ['version']);
  const byName = await runSwitches({ switches: SWITCHES, byName: true, concurrency: CONCURRENCY });
  console.log(JSON.stringify({ byName }));
  const byLoad = await runSwitches({ switches: SWITCHES, byName: false, concurrency: CONCURRENCY });
  console.log(JSON.stringify({ byLoad }));
  writeSection('ingress-switch', [
    '## Upstream switches without a Caddy reload (`bench/ingress-switch.ts`)',
    '',
    machine(),
    `Load average at the end: ${loadavg()
      .map((l) => fmt(l, 1))
      .join(', ')}. Caddy 2.6.2 (Debian).`,
    '',
    `The real supervised Caddy and the Service reconciler switch one route between two loopback upstreams (127.0.0.1 and 127.0.0.2, same port) ${fmt(SWITCHES)} times; each switch waits, as a RollingUpdate does, until the reconciler says Caddy can no longer pick the old upstream. ${CONCURRENCY} clients send requests back to back, each on a fresh connection. Same run, same switches.`,
    '',
    '| switch by | switches | config loads | seconds | requests | answered by upstream 1 / 2 | connection resets | other failures |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    row('name (orun: upstream DNS, the config never changes)', byName),
    row('baseline: a config `/load` per switch (before)', byLoad),
    '',
    'Every Caddy config change (a `/load`, and a `PATCH` of one path alike: Caddy reloads the whole config) binds new SO_REUSEPORT listeners and closes the old ones; connections still queued on a closing listener are reset. Switching by name changes no config. The switches by name take longer: Caddy caches an answer for 1 s.',
  ]);
}

runBench(main, () => Promise.resolve());

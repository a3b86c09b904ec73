/**
 * `orun bootstrap` as a short list of named steps run over one SSH session. Each step compares
 * what the node has with what it should have and changes only the difference, so a second run
 * on a bootstrapped node changes nothing and says so. `--dry-run` runs the same comparisons
 * (read-only commands only) and reports what it would change. A failing step names itself:
 * `bootstrap: install unit: ...`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { OrunError, errorMessage } from '../../apis/errors.ts';
import type { SshSession } from '../ssh/client.ts';
import { shellAnd, shellCommand } from '../ssh/quote.ts';
import { ageLibrary } from '../sops/age.ts';
import {
  FACTS_SCRIPT,
  REMOTE,
  SYSCTL_CONF,
  ageKeyPath,
  canApt,
  deployKeyPath,
  hasDocker,
  missingPackages,
  missingPrerequisites,
  nodeArch,
  parseFacts,
  renderEnvironment,
} from './remote.ts';
import type { RemoteFacts } from './remote.ts';
import { BootstrapErrorCode, isSshRepo, manifestPath, renderNodeManifest, sameNode } from './request.ts';
import type { BootstrapRequest } from './request.ts';
import { SERVICE_STATE_SCRIPT, STAT_DIRS_SCRIPT, StepRunner } from './session.ts';
import type { BootstrapDeps, BootstrapResult, StepOutcome, Upgrade } from './session.ts';

export type { BootstrapDeps, BootstrapResult } from './session.ts';

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Provisions the node `req` describes and writes `nodes/<name>.yaml` into `req.out`. The request
 * and the manifest are validated, and an existing different manifest refused (without `force`),
 * before anything connects.
 */
export async function bootstrap(req: BootstrapRequest, deps: BootstrapDeps): Promise<BootstrapResult> {
  const manifestText = renderNodeManifest(req);
  const manifestFile = join(req.out, manifestPath(req.name));
  const existing = await readIfExists(manifestFile);
  const same = existing !== undefined && sameNode(existing, manifestText, manifestPath(req.name));
  if (existing !== undefined && !same && !req.force)
    throw new OrunError(
      BootstrapErrorCode.ManifestExists,
      `bootstrap: write manifest: ${manifestFile} exists with other content; pass --force to overwrite it ` +
        `(nothing was changed on the node)`,
      { context: { file: manifestFile } },
    );

  const target = { host: req.host, port: req.port, user: req.user };
  const result: BootstrapResult = {
    target: `${req.user}@${req.host.includes(':') ? `[${req.host}]` : req.host}:${req.port}`,
    dryRun: req.dryRun,
    changes: [],
    problems: [],
    manifest: manifestFile,
  };
  let session: SshSession;
  try {
    session = await deps.connector.connect(
      { ...target, privateKeyPath: req.identity, agent: req.agent, knownHostsFile: req.knownHosts },
      deps.signal,
    );
  } catch (err) {
    throw new OrunError(BootstrapErrorCode.StepFailed, `bootstrap: connect: ${errorMessage(err)}`, {
      cause: err,
      context: { step: 'connect', target: result.target },
    });
  }
  deps.log(`bootstrap: connect: ok (${session.target})`);
  const run = new StepRunner(req, deps, session, result);
  let ok = false;
  try {
    const { facts } = await run.step('check remote', () => checkRemote(run));
    await run.step('install docker', () => installDocker(run, facts));
    await run.step('install packages', () => installPackages(run, facts));
    const { upgrade } = await run.step('install orun', () => installOrun(run, facts));
    await run.step('create data dir', () => createDataDir(run));
    await run.step('deploy key', () => deployKey(run));
    await run.step('age key', () => ageKey(run));
    await run.step('write environment', () => writeEnvironment(run));
    const { unitChanged } = await run.step('install unit', () => installUnit(run));
    await run.step('kernel settings', () => kernelSettings(run));
    const { restarted } = await run.step('start service', () => startService(run, facts, unitChanged));
    if (restarted) await run.step('first sync', () => firstSync(run));
    result.upgrade = upgrade;
    ok = true;
  } finally {
    // A failed run takes back what it wrote (files restored or removed, a unit it enabled
    // disabled): the node is as before, and the error names the step.
    if (!ok) await run.rollback();
    await run.cleanup();
    await session.close();
  }
  await run.step('write manifest', () =>
    writeManifest(run, manifestFile, manifestText, same ? manifestText : existing),
  );
  deps.log(summary(req, result));
  return result;
}

function summary(req: BootstrapRequest, result: BootstrapResult): string {
  const n = result.changes.length;
  if (req.dryRun)
    return (
      `bootstrap: dry run for node ${req.name} (${result.target}): ${n === 0 ? 'nothing to change' : `${n} change${n === 1 ? '' : 's'} planned`}, nothing done` +
      (result.problems.length > 0
        ? `; the node lacks ${result.problems.length} prerequisite(s), see check remote`
        : '')
    );
  const orun = result.upgrade ? `orun ${upgradeText(result.upgrade)}` : 'orun not installed';
  return n === 0
    ? `bootstrap: node ${req.name} (${result.target}) is up to date: nothing changed; ${orun}`
    : `bootstrap: node ${req.name} (${result.target}) bootstrapped: ${n} change${n === 1 ? '' : 's'}; ${orun}`;
}

async function checkRemote(run: StepRunner): Promise<StepOutcome & { facts: RemoteFacts }> {
  const res = await run.run(shellCommand(['sh', '-c', FACTS_SCRIPT]));
  const f = parseFacts(res.stdout);
  run.isRoot = f.uid === 0;
  const problems = missingPrerequisites(f, run.req);
  const summary = `${f.osName}, ${f.arch}, ${f.uid === 0 ? 'root' : 'sudo'}`;
  if (problems.length > 0) {
    if (!run.dryRun)
      throw new OrunError(
        BootstrapErrorCode.Prerequisites,
        `bootstrap: check remote: ${run.session.target} (${summary}) lacks what orun needs; nothing was changed:\n` +
          problems.map((p) => `  - ${p}`).join('\n'),
        { context: { problems } },
      );
    run.result.problems.push(...problems);
  }
  return { note: summary, facts: f };
}

async function installDocker(run: StepRunner, facts: RemoteFacts): Promise<StepOutcome> {
  if (hasDocker(facts)) return { note: 'present' };
  if (!run.req.installDocker) return { note: 'missing, not requested (--install-docker)' };
  const apt = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get'];
  await run.change('apt-get install docker.io', () =>
    run.run(
      shellAnd(
        run.root([...apt, 'update', '-qq']),
        run.root([...apt, 'install', '-y', '-qq', '--no-install-recommends', 'docker.io']),
      ),
      15 * 60_000,
    ),
  );
  await run.change('systemctl enable --now docker', () =>
    run.run(shellCommand(run.root(['systemctl', 'enable', '--now', 'docker']))),
  );
  return {};
}

/**
 * git and Caddy: through apt-get on Debian and Ubuntu (check remote refused other systems
 * already, listing what is missing). Debian's caddy package enables its own caddy.service on
 * :80/:443; orun runs its own Caddy, so that unit is disabled when this step installed it.
 */
async function installPackages(run: StepRunner, facts: RemoteFacts): Promise<StepOutcome> {
  const missing = missingPackages(facts);
  if (missing.length === 0) return { note: 'git, caddy present' };
  if (!canApt(facts)) return {}; // a dry run on a non-Debian node: check remote listed them
  const names = missing.map((p) => p.package);
  const apt = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-q'];
  await run.change(`apt-get install ${names.join(' ')}`, async () => {
    const res = await run.session.exec(
      shellAnd(
        run.root([...apt, 'update']),
        run.root([...apt, 'install', '-y', '--no-install-recommends', ...names]),
      ),
      { signal: run.deps.signal, timeoutMs: 15 * 60_000 },
    );
    if (res.code !== 0) {
      const tail = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-6).join('\n');
      throw new OrunError(
        BootstrapErrorCode.RemoteCommandFailed,
        `apt-get could not install ${names.join(' ')} (exit ${res.code}); make them installable ` +
          `(a reachable Debian mirror in /etc/apt/sources.list) or install them yourself, then re-run:\n${tail}`,
        { context: { packages: names, code: res.code } },
      );
    }
  });
  if (missing.some((p) => p.package === 'caddy'))
    await run.change('systemctl disable --now caddy (orun runs its own Caddy)', () =>
      run.run(shellCommand(run.root(['systemctl', 'disable', '--now', 'caddy']))),
    );
  return {};
}

/**
 * The single executable as /usr/local/bin/orun, with orunctl and orch linked to it. Its bytes
 * decide (sha256): the same file is `unchanged`, another one an upgrade, reported with both
 * versions. The pre-single-executable install (/usr/local/lib/orun, launchers) is removed.
 */
async function installOrun(run: StepRunner, facts: RemoteFacts): Promise<StepOutcome & { upgrade: Upgrade }> {
  const arch = nodeArch(facts.arch);
  const exe = arch === undefined ? undefined : run.deps.assets.executable(arch);
  if (exe === undefined)
    throw new OrunError(
      BootstrapErrorCode.Prerequisites,
      arch === undefined
        ? `bootstrap: install orun: no single executable for ${facts.arch}: orun builds linux-x64 and linux-arm64 only`
        : `bootstrap: install orun: no single executable for ${facts.arch} (linux-${arch}): ` +
            `build it with \`ORUN_DIST_ARCH=${arch} npm run dist\` (on any Linux machine)`,
    );
  const changed = await run.ensureFiles([{ path: REMOTE.orunBin, source: { local: exe.path }, mode: 0o755 }]);
  const links = await run.run(
    shellCommand(['sh', '-c', 'for l; do readlink -- "$l" || echo -; done', 'sh', ...REMOTE.links]),
  );
  for (const [i, link] of REMOTE.links.entries())
    if (links.stdout.split('\n')[i] !== 'orun')
      await run.change(`link ${link} → orun`, () =>
        run.run(shellCommand(run.root(['ln', '-sfn', 'orun', link]))),
      );
  const legacy = await run.session.exec(shellCommand(['test', '-e', REMOTE.legacyLibDir]), {
    signal: run.deps.signal,
  });
  if (legacy.code === 0)
    await run.change(`remove ${REMOTE.legacyLibDir} (the install before the single executable)`, () =>
      run.run(shellCommand(run.root(['rm', '-rf', '--', REMOTE.legacyLibDir]))),
    );
  const upgrade: Upgrade = {
    from: facts.orunVersion,
    to: changed.length > 0 ? exe.version : facts.orunVersion,
    changed: changed.length > 0,
  };
  return { note: upgradeText(upgrade), upgrade };
}

/** `installed B`, `upgraded A → B` or `unchanged A`. */
export function upgradeText(u: Upgrade): string {
  return !u.changed
    ? `unchanged ${u.from}`
    : u.from === ''
      ? `installed ${u.to}`
      : `upgraded ${u.from} → ${u.to}`;
}

async function createDataDir(run: StepRunner): Promise<StepOutcome> {
  const dataDir = run.req.dataDir;
  const keys = dirname(deployKeyPath(dataDir));
  const res = await run.run(shellCommand(run.root(['sh', '-c', STAT_DIRS_SCRIPT, 'sh', dataDir, keys])));
  const [dataMode, keysMode] = res.stdout.split('\n');
  // An existing data dir keeps its mode (the operator may have reasons); the key dir is private.
  if (dataMode === '-') {
    await run.change(`mkdir ${dataDir}`, () =>
      run.run(shellCommand(run.root(['install', '-d', '-m', '0755', '--', dataDir]))),
    );
    run.undo(() => run.run(shellCommand(run.root(['rm', '-rf', '--', dataDir]))));
  }
  if (keysMode !== '700') {
    await run.change(`${keysMode === '-' ? 'mkdir' : 'chmod 0700'} ${keys}`, () =>
      run.run(shellCommand(run.root(['install', '-d', '-m', '0700', '--', keys]))),
    );
    if (keysMode === '-') run.undo(() => run.run(shellCommand(run.root(['rm', '-rf', '--', keys]))));
  }
  return dataMode === '-' ? {} : { note: dataDir };
}

async function deployKey(run: StepRunner): Promise<StepOutcome> {
  const { req } = run;
  if (!isSshRepo(req.repo)) return { note: 'not needed: the repository is not reached over ssh' };
  const key = deployKeyPath(req.dataDir);
  const exists =
    (await run.session.exec(shellCommand(run.root(['test', '-f', key])), { signal: run.deps.signal }))
      .code === 0;
  if (!exists) {
    await run.change(`generate ${key}`, () =>
      run.run(
        shellCommand(
          run.root(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `orun@${req.name}`, '-f', key]),
        ),
      ),
    );
    run.undo(() => run.run(shellCommand(run.root(['rm', '-f', '--', key, `${key}.pub`]))));
  }
  if (run.dryRun && !exists) {
    run.deps.print(`Deploy key: would be generated at ${key}; its public key is printed by the real run.\n`);
    return {};
  }
  const pub = (await run.run(shellCommand(run.root(['cat', '--', `${key}.pub`])))).stdout.trim();
  run.result.deployKey = pub;
  run.deps.print(
    `Deploy key of node ${req.name}: add it to ${req.repo} as a read-only deploy key:\n${pub}\n`,
  );
  return exists ? { note: key } : {};
}

/**
 * The age key SOPS secrets are decrypted with (`<dataDir>/keys/age.key`, 0600): `--age-key`
 * installs a given one; otherwise a node without one gets a new key, made here and uploaded.
 * Its public key is printed, for `.sops.yaml`.
 */
async function ageKey(run: StepRunner): Promise<StepOutcome> {
  const path = ageKeyPath(run.req.dataDir);
  let text: string | undefined;
  if (run.req.ageKey !== undefined) text = await readFile(run.req.ageKey, 'utf8');
  else {
    const exists = await run.session.exec(shellCommand(run.root(['test', '-f', path])), {
      signal: run.deps.signal,
    });
    if (exists.code === 0) {
      const pub = await run.run(shellCommand(run.root(['sed', '-n', 's/^# public key: //p', path])));
      return { note: pub.stdout.trim() || path };
    }
    const { generateX25519Identity, identityToRecipient } = await ageLibrary();
    const identity = await generateX25519Identity();
    text = `# created: ${new Date().toISOString()}\n# public key: ${await identityToRecipient(identity)}\n${identity}\n`;
  }
  const changed = await run.ensureFiles([{ path, source: Buffer.from(text), mode: 0o600 }]);
  const recipient = /^# public key: (\S+)/m.exec(text)?.[1];
  if (changed.length > 0 && recipient !== undefined && !run.dryRun)
    run.deps.print(`Age key of node ${run.req.name}: add this recipient to .sops.yaml:\n${recipient}\n`);
  return recipient === undefined ? {} : { note: recipient };
}

async function writeEnvironment(run: StepRunner): Promise<StepOutcome> {
  await run.ensureFiles([
    { path: REMOTE.environment, source: Buffer.from(renderEnvironment(run.req)), mode: 0o600 },
  ]);
  return {};
}

async function installUnit(run: StepRunner): Promise<StepOutcome & { unitChanged: boolean }> {
  // Undone last (undo runs newest first): systemd rereads the unit a rollback put back.
  run.undo(() => run.run(shellCommand(run.root(['systemctl', 'daemon-reload']))));
  const changed = await run.ensureFiles([
    { path: REMOTE.unit, source: Buffer.from(run.deps.assets.unit), mode: 0o644 },
  ]);
  return { unitChanged: changed.length > 0 };
}

/**
 * `/etc/sysctl.d/60-orun.conf` (net.ipv4.tcp_migrate_req=1, see SYSCTL_CONF), applied at once
 * when written. Applying can fail where /proc/sys is read-only (a container); the file still
 * applies at the next boot, and the agent says at start when the setting is off.
 */
async function kernelSettings(run: StepRunner): Promise<StepOutcome> {
  const changed = await run.ensureFiles([
    { path: REMOTE.sysctl, source: Buffer.from(SYSCTL_CONF), mode: 0o644 },
  ]);
  if (changed.length === 0) return { note: 'net.ipv4.tcp_migrate_req = 1' };
  let note: string | undefined;
  await run.change(`sysctl -p ${REMOTE.sysctl}`, async () => {
    const res = await run.session.exec(shellCommand(run.root(['sysctl', '-q', '-e', '-p', REMOTE.sysctl])), {
      signal: run.deps.signal,
    });
    if (res.code !== 0)
      note = `not applied now (${(res.stderr.trim() || `exit ${res.code}`).split('\n')[0]}); it applies at the next boot`;
  });
  return note === undefined ? {} : { note };
}

async function startService(
  run: StepRunner,
  facts: RemoteFacts,
  unitChanged: boolean,
): Promise<StepOutcome & { restarted: boolean }> {
  if (!facts.systemdRunning) return { note: 'skipped: no systemd', restarted: false };
  const svc = REMOTE.service;
  const [enabled = '', active = ''] = (await run.run(shellCommand(['sh', '-c', SERVICE_STATE_SCRIPT]))).stdout
    .split('\n')
    .map((s) => s.trim());
  // Anything installed earlier in this run (binaries, environment, unit, key) needs a restart.
  const nodeChanged = run.result.changes.some((c) => c.step !== 'start service');
  const systemctl =
    (...args: string[]) =>
    () =>
      run.run(shellCommand(run.root(['systemctl', ...args])));
  if (unitChanged) await run.change('systemctl daemon-reload', systemctl('daemon-reload'));
  if (enabled !== 'enabled') {
    await run.change(`systemctl enable ${svc}`, systemctl('enable', svc));
    run.undo(systemctl('disable', svc));
  }
  const restarted = active !== 'active' || nodeChanged;
  if (active !== 'active') {
    await run.change(`systemctl start ${svc}`, systemctl('start', svc));
    run.undo(() => run.run(shellCommand(run.root(['systemctl', 'stop', svc]))));
  } else if (nodeChanged)
    // Only the agent restarts (KillMode=process): containers belong to dockerd and are adopted.
    await run.change(`systemctl restart ${svc} (its files changed)`, systemctl('restart', svc));
  if (run.dryRun || !restarted)
    return { ...(active === 'active' ? { note: 'active' } : {}), restarted: false };
  await checkStaysUp(run, svc);
  return { note: 'active', restarted: true };
}

/**
 * Waits for the agent's first applied revision (its Node has status.revision), then prints the
 * node's `orunctl get all`. An agent that refuses (UnknownNode: nodes/<name>.yaml is not in
 * Git yet) or has not synced in time (a deploy key not added yet) is reported, not failed: the
 * install is complete and the agent keeps trying.
 */
async function firstSync(run: StepRunner): Promise<StepOutcome> {
  const timeoutMs = run.req.syncTimeoutMs ?? 120_000;
  if (timeoutMs === 0) return { note: 'skipped' };
  const socket = `${run.req.dataDir.replace(/\/+$/, '')}/orun.sock`;
  const orunctl = (...args: string[]) =>
    shellCommand(run.root([REMOTE.links[0], '--socket', socket, ...args]));
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    const res = await run.session.exec(orunctl('get', 'node', run.req.name, '-o', 'json'), {
      signal: run.deps.signal,
    });
    const ready = res.code === 0 ? readyOf(res.stdout) : undefined;
    if (ready?.revision) {
      const all = await run.session.exec(orunctl('get', 'all'), { signal: run.deps.signal });
      run.deps.print(`$ orunctl get all   # on ${run.req.name}\n${all.stdout}${all.stderr}`);
      if (ready.reason === 'UnknownNode')
        return {
          note: `${ready.revision}; ${ready.message} (commit and push ${manifestPath(run.req.name)})`,
        };
      return { note: `${ready.revision}, Ready=${ready.status}` };
    }
    last = res.code === 0 ? 'no revision applied yet' : res.stderr.trim() || res.stdout.trim();
    // Not a failed install (nothing is rolled back): e.g. the deploy key is not added yet.
    if (Date.now() > deadline)
      return {
        note:
          `not synced yet after ${Math.round(timeoutMs / 1000)} s (${last}); the agent keeps trying: ` +
          `see \`orunctl get node ${run.req.name}\` and journalctl -u ${REMOTE.service} on the node`,
      };
    await delay(500, undefined, { signal: run.deps.signal });
  }
}

function readyOf(
  json: string,
): { revision?: string; status?: string; reason?: string; message?: string } | undefined {
  try {
    const node = JSON.parse(json) as {
      status?: {
        revision?: string;
        conditions?: { type: string; status: string; reason: string; message: string }[];
      };
    };
    const c = node.status?.conditions?.find((x) => x.type === 'Ready');
    return { revision: node.status?.revision, status: c?.status, reason: c?.reason, message: c?.message };
  } catch {
    return undefined;
  }
}

/** A unit with Restart=always is "active" right after a crash too: it must stay up for a moment. */
async function checkStaysUp(run: StepRunner, svc: string): Promise<void> {
  await delay(run.deps.settleMs ?? 3000, undefined, { signal: run.deps.signal });
  // `systemctl show` prints properties in its own order, whatever order they were asked in.
  const shown = await run.run(
    shellCommand(['systemctl', 'show', '-p', 'ActiveState', '-p', 'NRestarts', svc]),
  );
  const props = new Map(
    shown.stdout.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]),
  );
  const activeState = props.get('ActiveState') ?? 'unknown';
  const restarts = props.get('NRestarts') ?? '';
  if (activeState !== 'active' || (restarts !== undefined && restarts !== '' && restarts !== '0')) {
    const journal = await run.session.exec(
      shellCommand(run.root(['journalctl', '-u', svc, '-n', '20', '--no-pager', '-o', 'cat'])),
      { signal: run.deps.signal },
    );
    throw new OrunError(
      BootstrapErrorCode.RemoteCommandFailed,
      `${svc} did not stay up (state ${activeState}, ${restarts} restarts); its last log lines:\n${journal.stdout.trimEnd()}`,
    );
  }
}

async function writeManifest(
  run: StepRunner,
  file: string,
  text: string,
  existing: string | undefined,
): Promise<StepOutcome> {
  if (existing === text) return { note: `${file} unchanged` };
  await run.change(`${existing === undefined ? 'write' : 'overwrite'} ${file}`, async () => {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
  });
  if (run.dryRun) run.deps.print(`# ${manifestPath(run.req.name)}\n${text}`);
  return {};
}

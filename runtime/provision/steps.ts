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
import {
  FACTS_SCRIPT,
  MIN_NODE_MAJOR,
  REMOTE,
  deployKeyPath,
  hasDocker,
  missingPrerequisites,
  nodeMajor,
  parseFacts,
  renderEnvironment,
  renderLauncher,
  unameArch,
} from './remote.ts';
import type { RemoteFacts } from './remote.ts';
import { BootstrapErrorCode, isSshRepo, manifestPath, renderNodeManifest } from './request.ts';
import type { BootstrapRequest } from './request.ts';
import { SERVICE_STATE_SCRIPT, STAT_DIRS_SCRIPT, STAT_FILES_SCRIPT, StepRunner } from './session.ts';
import type { BootstrapDeps, BootstrapResult, StepOutcome } from './session.ts';

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
  if (existing !== undefined && existing !== manifestText && !req.force)
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
  try {
    const { facts } = await run.step('check remote', () => checkRemote(run));
    await run.step('install docker', () => installDocker(run, facts));
    const { nodePath } = await run.step('install node', () => installNode(run, facts));
    await run.step('install orun', () => installOrun(run, nodePath));
    await run.step('create data dir', () => createDataDir(run));
    await run.step('deploy key', () => deployKey(run));
    await run.step('write environment', () => writeEnvironment(run));
    const { unitChanged } = await run.step('install unit', () => installUnit(run));
    await run.step('start service', () => startService(run, facts, unitChanged));
  } finally {
    await run.cleanup();
    await session.close();
  }
  await run.step('write manifest', () => writeManifest(run, manifestFile, manifestText, existing));
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
  return n === 0
    ? `bootstrap: node ${req.name} (${result.target}) is up to date: nothing changed`
    : `bootstrap: node ${req.name} (${result.target}) bootstrapped: ${n} change${n === 1 ? '' : 's'}`;
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
 * Node.js: the node's own when it is ≥ 22, else this machine's binary (same OS and architecture)
 * uploaded to /usr/local/lib/orun/node. Once uploaded, the uploaded one is kept current.
 */
async function installNode(run: StepRunner, f: RemoteFacts): Promise<StepOutcome & { nodePath: string }> {
  const { assets } = run.deps;
  const compatible = assets.nodePlatform === 'linux' && unameArch(assets.nodeArch) === f.arch;
  const [managed] = (
    await run.run(shellCommand(run.root(['sh', '-c', STAT_FILES_SCRIPT, 'sh', REMOTE.node])))
  ).stdout.split('\n');
  const systemMajor = nodeMajor(f.nodeVersion);
  if (managed === '-' && systemMajor !== undefined && systemMajor >= MIN_NODE_MAJOR)
    return { note: `using the node's ${f.node} ${f.nodeVersion}`, nodePath: f.node };
  if (!compatible) {
    if (managed !== '-')
      return {
        note: `keeping ${REMOTE.node}: this machine's Node.js is for ${assets.nodePlatform}-${assets.nodeArch}`,
        nodePath: REMOTE.node,
      };
    throw new OrunError(
      BootstrapErrorCode.Prerequisites,
      `bootstrap: install node: ${run.session.target} has no Node.js ≥ ${MIN_NODE_MAJOR} ` +
        `(found ${f.nodeVersion || 'none'}) and this machine's Node.js is for ${assets.nodePlatform}-${assets.nodeArch}, ` +
        `not linux-${f.arch}: install Node.js ≥ ${MIN_NODE_MAJOR} on the node and re-run`,
    );
  }
  const changed = await run.ensureFiles([
    { path: REMOTE.node, source: { local: assets.nodeBinary }, mode: 0o755 },
  ]);
  if (changed.length > 0 && !run.dryRun) {
    const res = await run.session.exec(shellCommand([REMOTE.node, '--version']), { signal: run.deps.signal });
    if (res.code !== 0)
      throw new OrunError(
        BootstrapErrorCode.RemoteCommandFailed,
        `the uploaded ${REMOTE.node} does not run on the node (${res.stderr.trim() || `exit ${res.code}`}); ` +
          `install Node.js ≥ ${MIN_NODE_MAJOR} there instead and re-run`,
      );
  }
  const note =
    changed.length > 0
      ? `this machine's Node.js ${process.version}: the node has ${f.nodeVersion || 'none'}`
      : `${REMOTE.node} ${process.version}`;
  return { note, nodePath: REMOTE.node };
}

async function installOrun(run: StepRunner, nodePath: string): Promise<StepOutcome> {
  const { assets } = run.deps;
  await run.ensureFiles([
    { path: REMOTE.orunJs, source: { local: assets.orunJs }, mode: 0o644 },
    { path: REMOTE.orunctlJs, source: { local: assets.orunctlJs }, mode: 0o644 },
    { path: REMOTE.orunBin, source: Buffer.from(renderLauncher(nodePath, REMOTE.orunJs)), mode: 0o755 },
    {
      path: REMOTE.orunctlBin,
      source: Buffer.from(renderLauncher(nodePath, REMOTE.orunctlJs)),
      mode: 0o755,
    },
  ]);
  return {};
}

async function createDataDir(run: StepRunner): Promise<StepOutcome> {
  const dataDir = run.req.dataDir;
  const keys = dirname(deployKeyPath(dataDir));
  const res = await run.run(shellCommand(run.root(['sh', '-c', STAT_DIRS_SCRIPT, 'sh', dataDir, keys])));
  const [dataMode, keysMode] = res.stdout.split('\n');
  // An existing data dir keeps its mode (the operator may have reasons); the key dir is private.
  if (dataMode === '-')
    await run.change(`mkdir ${dataDir}`, () =>
      run.run(shellCommand(run.root(['install', '-d', '-m', '0755', '--', dataDir]))),
    );
  if (keysMode !== '700')
    await run.change(`${keysMode === '-' ? 'mkdir' : 'chmod 0700'} ${keys}`, () =>
      run.run(shellCommand(run.root(['install', '-d', '-m', '0700', '--', keys]))),
    );
  return dataMode === '-' ? {} : { note: dataDir };
}

async function deployKey(run: StepRunner): Promise<StepOutcome> {
  const { req } = run;
  if (!isSshRepo(req.repo)) return { note: 'not needed: the repository is not reached over ssh' };
  const key = deployKeyPath(req.dataDir);
  const exists =
    (await run.session.exec(shellCommand(run.root(['test', '-f', key])), { signal: run.deps.signal }))
      .code === 0;
  if (!exists)
    await run.change(`generate ${key}`, () =>
      run.run(
        shellCommand(
          run.root(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `orun@${req.name}`, '-f', key]),
        ),
      ),
    );
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

async function writeEnvironment(run: StepRunner): Promise<StepOutcome> {
  await run.ensureFiles([
    { path: REMOTE.environment, source: Buffer.from(renderEnvironment(run.req)), mode: 0o600 },
  ]);
  return {};
}

async function installUnit(run: StepRunner): Promise<StepOutcome & { unitChanged: boolean }> {
  const changed = await run.ensureFiles([
    { path: REMOTE.unit, source: { local: run.deps.assets.unit }, mode: 0o644 },
  ]);
  return { unitChanged: changed.length > 0 };
}

async function startService(run: StepRunner, facts: RemoteFacts, unitChanged: boolean): Promise<StepOutcome> {
  if (!facts.systemdRunning) return { note: 'skipped: no systemd' };
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
  if (enabled !== 'enabled') await run.change(`systemctl enable ${svc}`, systemctl('enable', svc));
  const restarted = active !== 'active' || nodeChanged;
  if (active !== 'active') await run.change(`systemctl start ${svc}`, systemctl('start', svc));
  else if (nodeChanged)
    await run.change(`systemctl restart ${svc} (its files changed)`, systemctl('restart', svc));
  if (run.dryRun || !restarted) return active === 'active' ? { note: 'active' } : {};
  await checkStaysUp(run, svc);
  return { note: 'active' };
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

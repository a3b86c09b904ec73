/**
 * The agent's wiring, in dependency order: logger → metrics registry → store → event recorder →
 * Git source (via the informer, repository in `<dataDir>/repo`) → Deployment controller on the
 * Docker engine → Node controller → local API on the unix socket → manager with the probe server.
 *
 * With `--ingress caddy` (the default) also the supervised Caddy and the Service controller
 * (cmd/orun/ingress.ts).
 *
 * Manager groups: servers (probes, local API, caddy) → sources (the informer, waited until its
 * first snapshot is applied, so /readyz fails until then and no controller ever sees an empty
 * store) → controllers (deployment, node, servicegraph, service). On abort everything stops in
 * reverse: Caddy is stopped (the ingress is down until the next start); containers keep running,
 * and so do ServiceGraph host processes (detached, adopted by the next start).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { errorMessage, isOrunError } from '../../apis/errors.ts';
import { formatDuration } from '../../apis/run.orcra.dev/v0alpha/duration.ts';
import { API_VERSION, type ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { Node } from '../../apis/run.orcra.dev/v0alpha/node.ts';
import {
  defaultBackoffPolicy,
  deploymentLogs,
  newDeploymentController,
  nodeNetworkName,
} from '../../controllers/deployment/index.ts';
import { NodeController, type AppliedView } from '../../controllers/node/index.ts';
import { INGRESS_KEY } from '../../controllers/service/index.ts';
import {
  newServiceGraphController,
  serviceGraphLogs,
  type ServiceGraphReconciler,
} from '../../controllers/servicegraph/index.ts';
import type { ApiBackend } from '../../runtime/api/backend.ts';
import { apiServerRunnable } from '../../runtime/api/runnable.ts';
import { storeBackend } from '../../runtime/api/store-backend.ts';
import { realClock, type Clock } from '../../runtime/clock/index.ts';
import type { Controller } from '../../runtime/controller/index.ts';
import { VERSION } from '../../runtime/version/index.ts';
import { DockerEngine } from '../../runtime/docker/dockerode.ts';
import { EngineHealth, monitorEngine } from '../../runtime/docker/health.ts';
import { EventRecorder, type EventSink } from '../../runtime/events/index.ts';
import { CommitTrust, GitSource } from '../../runtime/git/index.ts';
import { FileLastGoodStore, GitInformer } from '../../runtime/informer/index.ts';
import { createLogger, type Logger } from '../../runtime/log/index.ts';
import { Manager, memoryTrimRunnable, type Runnable } from '../../runtime/manager/index.ts';
import { newRegistry, RuntimeMetrics } from '../../runtime/metrics/index.ts';
import { NodeProcessRunner } from '../../runtime/process/index.ts';
import { TmpfsSecretFiles } from '../../runtime/secretfs/index.ts';
import { loadManifestTree } from '../../runtime/manifests/tree.ts';
import {
  loadAgeIdentities,
  loadNodeSecretKey,
  SopsErrorCode,
  SopsManifestDecryptor,
} from '../../runtime/sops/index.ts';
import { Store } from '../../runtime/store/index.ts';
import { host, notificationsRunnable, Notifier } from '../../runtime/notify/index.ts';
import { buildIngress } from './ingress.ts';
import { deploymentKeys, storeKeys, suspension, webhookRunnable } from './operate.ts';
import { liveSourceSettings, nodeOverrides, type AgentSettings } from '../../runtime/config/settings.ts';

/** A running agent's parts, for tests and for the API backend. */
export interface Agent {
  manager: Manager;
  store: Store;
  recorder: EventRecorder;
  informer: GitInformer<GitSource>;
  logger: Logger;
}

/** Builds the agent; `start(signal)` on its manager runs it. */
export function buildAgent(settings: AgentSettings, given?: Logger): Agent {
  // Secrets decrypted later (by the informer) are masked in every log line, event and API answer.
  let redactText = (text: string): string => text;
  const logger = given ?? createLogger({ level: settings.logLevel, redactText: (l) => redactText(l) });
  const clock = realClock;
  const registry = agentRegistry();
  const metrics = new RuntimeMetrics(registry);
  const store = new Store({ clock });
  const recorder = new EventRecorder({ clock, redact: (m) => redactText(m) });
  const { engine, engineHealth } = monitoredEngine(clock, logger);
  const nodeEvents = recorder.for('node-controller');
  const informer = newInformer(settings, store, nodeEvents, registry, logger);
  redactText = informer.redactText;
  const common = { store, clock, registry, logger, controllerMetrics: metrics };

  const { deployments, serviceGraphs, ingress, nodes, branch } = newControllers(settings, {
    ...common,
    engine,
    engineHealth,
    recorder,
    informer,
    nodeEvents,
    metrics,
  });

  // Suspended objects (orunctl suspend, the annotation, the whole node) are skipped by every controller.
  const suspend = suspension({
    settings,
    store,
    engine,
    logger,
    controllers: [
      { controller: deployments.controller, keys: () => deploymentKeys(store, engine, settings.node) },
      { controller: serviceGraphs.controller, keys: storeKeys(store, 'ServiceGraph') },
      ...(ingress === undefined
        ? []
        : [{ controller: ingress.services.controller, keys: () => Promise.resolve([INGRESS_KEY]) }]),
    ],
  });
  const webhook = webhookRunnable({
    settings,
    poll: () => informer.source().syncNow(),
    branch,
    registry,
    logger,
  });

  const manager = new Manager({ logger, clock, syncTimeoutMs: 2 ** 31 - 1 });
  manager.serveProbes(settings.metricsAddress, registry);
  manager.addServer(engineHealthRunnable(engineHealth, manager));
  manager.addServer(suspend.loader);
  // The heap V8 grew during a burst goes back once the agent is idle again (runtime/manager/memory.ts).
  manager.addServer(memoryTrimRunnable({ clock, logger }));
  const logs = agentLogs(engine, settings.node, serviceGraphs.reconciler);
  manager.addServer(localApi(settings, { store, recorder, informer, logs, manager, suspend, logger }));
  if (webhook !== undefined) manager.addServer(webhook);
  if (ingress !== undefined) manager.addServer(ingress.caddy);
  manager.addSource(informer);
  manager.addController(deployments);
  manager.addController(nodes);
  manager.addController(serviceGraphs);
  const notifications = notificationsFor(settings, { store, clock, logger, registry });
  if (notifications !== undefined) manager.addController(notifications);
  if (ingress !== undefined) manager.addController(ingress.services);
  manager.handleReconcile('Deployment', (name) => (deployments.requestReconcile(name), true));
  manager.handleReconcile('Node', (name) => name === settings.node && enqueue(nodes.controller, nodes.key));
  // A person asked: the graph is applied again and its ONESHOT services run again.
  manager.handleReconcile('ServiceGraph', (name) => (serviceGraphs.requestReconcile(name), true));
  if (ingress !== undefined)
    manager.handleReconcile('Service', () => enqueue(ingress.services.controller, INGRESS_KEY));
  return { manager, store, recorder, informer, logger };
}

/** Rollout, stall and sync-failure notifications, when `--notify` names endpoints. */
function notificationsFor(
  settings: AgentSettings,
  p: { store: Store; clock: typeof realClock; logger: Logger; registry: Registry },
): Runnable | undefined {
  if (settings.notify.length === 0) return undefined;
  const notifier = new Notifier({
    endpoints: settings.notify,
    nodeName: settings.node,
    revision: () => p.store.revision(),
    clock: p.clock,
    logger: p.logger,
    registry: p.registry,
  });
  return notificationsRunnable({ store: p.store, notifier, nodeName: settings.node });
}

/** The local API on the unix socket: the store's objects, suspension, secrets redacted. */
function localApi(
  settings: AgentSettings,
  p: {
    store: Store;
    recorder: EventRecorder;
    informer: GitInformer<GitSource>;
    logs: ApiBackend['logs'];
    manager: Manager;
    suspend: ReturnType<typeof suspension>;
    logger: Logger;
  },
): Runnable {
  const { store, informer, logger } = p;
  const storeApi = storeBackend({
    version: VERSION,
    nodeName: settings.node,
    store,
    recorder: p.recorder,
    syncSource: () => void informer.source().syncNow(),
    enqueue: (kind, name) => p.manager.reconcileNow(kind, name),
    logs: p.logs,
  });
  const backend = p.suspend.backend(storeApi, {
    nodeName: settings.node,
    revision: () => store.revision(),
    fallbackNode: () => fallbackNode(settings),
    identities: () => ageIdentities(settings, logger),
    currentSecret: informer.resolveSecret,
    currentCheckout: () => informer.appliedCheckout(),
    dataDir: settings.dataDir,
  });
  return apiServerRunnable(settings.socket, backend, logger, {
    secretPaths: (obj) => informer.secretPathsOf(obj.kind, obj.metadata.name),
    redactText: informer.redactText,
  });
}

/** The agent's parts every controller is built from. */
interface ControllerParts {
  store: Store;
  clock: typeof realClock;
  registry: Registry;
  logger: Logger;
  controllerMetrics: RuntimeMetrics;
  metrics: RuntimeMetrics;
  engine: DockerEngine;
  engineHealth: EngineHealth;
  recorder: EventRecorder;
  informer: GitInformer<GitSource>;
  nodeEvents: EventSink;
}

/** The four controllers (the Service controller only with `--ingress caddy`), built eagerly. */
function newControllers(settings: AgentSettings, p: ControllerParts) {
  const { store, clock, registry, logger, metrics, engine, engineHealth, recorder, informer, nodeEvents } = p;
  const common = { store, clock, registry, logger, controllerMetrics: metrics };
  const node = () => store.get<Node>('Node', settings.node);
  const deployments = newDeploymentController({
    ...common,
    engine,
    events: recorder.for('deployment-controller'),
    resolveSecret: informer.resolveSecret,
    secretKeys: informer.secretKeys,
    secretsChanged$: informer.secretsChanged$,
    engineChanged$: engineHealth.changed$,
    secretFiles: new TmpfsSecretFiles(join(settings.secretsDir, settings.node)),
    secretHashKey: loadNodeSecretKey(settings.dataDir),
    nodeName: settings.node,
    codeDir: () => node()?.spec.codeDir,
    backoff: { ...defaultBackoffPolicy, initialMs: settings.crashBackoffMs },
    networkName: nodeNetworkName(settings.node),
    // A start-first rollout drains the old container once Caddy proxies to the new one.
    ingress: { upstreamsOf: (d) => ingress?.services.reconciler.upstreamsOf(d) ?? [] },
  });
  // Orchfile graphs (host processes + containers); services outlive the agent and are adopted.
  const serviceGraphs = newServiceGraphController({
    ...common,
    engine,
    processes: new NodeProcessRunner(),
    events: recorder.for('servicegraph-controller'),
    // Orchfiles are read at the revision the store holds; none while a newer one is checked out.
    checkout: () => informer.appliedCheckout(),
    revisions$: informer.applied$,
    engineStatus: () => engineHealth.status(),
    engineChanged$: engineHealth.changed$,
    dataDir: settings.dataDir,
    nodeName: settings.node,
  });
  // The branch the node tracks: a flag/env/config pin, else the Node manifest, else the default.
  const branch = (): string => liveSourceSettings(settings, node()).branch;
  const ingress =
    settings.ingress === 'caddy'
      ? buildIngress({ settings, store, recorder, clock, registry, metrics, logger, branch })
      : undefined;
  const nodes = new NodeController({
    nodeName: settings.node,
    store,
    gitStatus: () => informer.source().status(),
    lastApplied: () => appliedView(informer),
    applied$: informer.applied$,
    engineStatus: () => engineHealth.status(),
    engineChanged$: engineHealth.changed$,
    onSpec: liveSettings(settings, informer.source(), logger),
    events: nodeEvents,
    clock,
    logger,
    controllerMetrics: metrics,
    resyncMs: Math.min(settings.pollIntervalMs, 5000),
  });

  return { deployments, serviceGraphs, ingress, nodes, branch };
}

/** The informer's last applied revision, with why the last good objects could not be saved (StateSaved). */
function appliedView(informer: GitInformer): AppliedView | undefined {
  const last = informer.lastResult();
  const saveError = informer.saveError();
  return last === undefined || saveError === undefined ? last : { ...last, saveError };
}

/** `orunctl logs`: a Deployment's container, or a ServiceGraph's services (their files and containers). */
function agentLogs(engine: DockerEngine, node: string, graphs: ServiceGraphReconciler): ApiBackend['logs'] {
  const deployment = deploymentLogs(engine, node);
  const graph = serviceGraphLogs({ targets: (name) => graphs.logTargets(name), engine });
  return (kind, name, options, signal) =>
    kind === 'ServiceGraph' ? graph(name, options, signal) : deployment(name, options, signal);
}

/** The Docker engine, every call of which reports to the health tracker (RuntimeReady, /readyz, recovery). */
function monitoredEngine(clock: Clock, logger: Logger): { engine: DockerEngine; engineHealth: EngineHealth } {
  const docker = new DockerEngine();
  const engineHealth = new EngineHealth({ ping: () => docker.ping(), clock, logger });
  return { engine: monitorEngine(docker, engineHealth), engineHealth };
}

/** The engine's health pings as a server runnable (up before the controllers), and the `engine` ready check. */
function engineHealthRunnable(health: EngineHealth, manager: Manager): Runnable {
  manager.addReadyCheck('engine', health.check);
  return { name: 'engine-health', start: (signal) => health.start(signal) };
}

function enqueue(controller: Controller, key: string): true {
  controller.enqueue(key);
  return true;
}

/** The registry /metrics serves: the runtime's metrics plus Node.js's own. */
function agentRegistry(): Registry {
  const registry = newRegistry();
  // process_* and nodejs_* (CPU, memory, event loop lag, GC), as every Node.js exporter has.
  // Event-loop lag sampled every second, not every 10 ms (prom-client's default): 100 timer
  // wake-ups a second were 0.2 % of a core on an idle agent; the nodejs_eventloop_lag_* series stay.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1000 });
  // prom-client also exports these gauges under a `_total` name, which `promtool check metrics`
  // rejects (only counters end in _total); nodejs_active_{handles,requests,resources} carry the same.
  for (const n of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ])
    registry.removeSingleMetric(n);
  return registry;
}

/**
 * The Git informer over a GitSource checked out in `<dataDir>/repo`. The source reads the branch
 * and poll interval at every poll from the Node in the store (unless a flag, env or the config
 * file pins them), so a change to the Node manifest applies at the next poll; nothing is rebuilt.
 */
function newInformer(
  settings: AgentSettings,
  store: Store,
  events: EventSink,
  registry: Registry,
  logger: Logger,
): GitInformer<GitSource> {
  const live = () => liveSourceSettings(settings, store.get<Node>('Node', settings.node));
  // Signed commits: the --allowed-signers flag, else the signers of the last applied Node.
  const trust = new CommitTrust({
    ...(settings.allowedSignersFile === undefined ? {} : { flagFile: settings.allowedSignersFile }),
    stateFile: join(settings.dataDir, 'state', 'allowed_signers'),
    logger,
  });
  const informer = new GitInformer({
    store,
    nodeName: settings.node,
    source: new GitSource({
      remote: settings.repo,
      branch: () => live().branch,
      dir: join(settings.dataDir, 'repo'),
      pollInterval: () => live().pollIntervalMs,
      ...(settings.sshKeyPath === undefined ? {} : { sshKeyPath: settings.sshKeyPath }),
      verify: () => trust.verify(),
      logger,
      registry,
    }),
    loader: loadManifestTree,
    decryptor: new SopsManifestDecryptor(() => ageIdentities(settings, logger)),
    fallbackNode: () => fallbackNode(settings),
    branchOf: (node) => nodeOverrides(settings, (node as Node).spec).branch,
    events,
    logger,
    // A restart while a file is broken keeps that file's objects (and prunes nothing).
    lastGood: new FileLastGoodStore(join(settings.dataDir, 'state', 'last-good.json')),
    limits: { maxFileBytes: settings.maxManifestBytes, maxRepoBytes: settings.maxRepoBytes },
    dataDir: settings.dataDir,
  });
  informer.applied$.subscribe(() => adoptTrust(trust, store, settings.node, logger));
  return informer;
}

/** The applied Node's `spec.verifyCommits` becomes the trust for the next commit (runtime/git/trust.ts). */
function adoptTrust(trust: CommitTrust, store: Store, node: string, log: Logger): void {
  try {
    trust.adopt(store.get<Node>('Node', node)?.spec);
  } catch (err) {
    // e.g. the data dir is full: the trust in force stays (the file was replaced atomically or not at all).
    log.error({ err: errorMessage(err) }, 'keeping the allowed signers in force failed');
  }
}

/** Runs the agent until `signal` aborts. */
export async function runAgent(settings: AgentSettings, signal: AbortSignal, logger?: Logger): Promise<void> {
  const agent = buildAgent(settings, logger);
  agent.logger.info(
    {
      version: VERSION,
      node: settings.node,
      repo: settings.repo.replace(/\/\/[^@/]*@/, '//***@'),
      branch: settings.branch,
      dataDir: settings.dataDir,
      pollInterval: formatDuration(settings.pollIntervalMs),
      metricsAddress: settings.metricsAddress,
      socket: settings.socket,
      ingress: settings.ingress,
      ...(settings.webhookAddress === undefined ? {} : { webhookAddress: settings.webhookAddress }),
      ...(settings.notify.length === 0
        ? {}
        : { notify: settings.notify.map((e) => `${e.type}=${host(e.url)}`) }),
      ...(settings.ingress === 'caddy'
        ? { httpPort: settings.httpPort, httpsPort: settings.httpsPort, acmeCa: settings.acmeCa }
        : {}),
    },
    'orun agent starting',
  );
  await agent.manager.start(signal);
  agent.logger.info(
    settings.ingress === 'caddy'
      ? 'orun agent stopped; managed containers left running, caddy stopped'
      : 'orun agent stopped; managed containers left running',
  );
}

/** The Node used until the repository has `nodes/<name>.yaml`: status needs a home. */
function fallbackNode(s: AgentSettings): ApiObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Node',
    metadata: {
      name: s.node,
      annotations: { 'run.orcra.dev/generated': `no nodes/${s.node}.yaml in the repository` },
    },
    spec: {
      host: hostname(),
      gitRepo: s.repo,
      gitBranch: s.branch,
      pollInterval: formatDuration(s.pollIntervalMs),
      dataDir: s.dataDir,
    },
  };
}

/**
 * What the Node controller does with the Node at each reconcile. The Git source reads the branch
 * and poll interval itself at each poll; when they changed it is asked to poll now, so a shorter
 * interval or another branch does not wait for the end of the current interval.
 */
function liveSettings(
  settings: AgentSettings,
  source: GitSource,
  log: Logger,
): (node: Readonly<Node>) => void {
  let warnedDataDir: string | undefined;
  let last = liveSourceSettings(settings, undefined);
  return (node) => {
    const now = liveSourceSettings(settings, node);
    if (now.branch !== last.branch || now.pollIntervalMs !== last.pollIntervalMs) void source.syncNow();
    last = now;
    const dataDir = node.spec.dataDir;
    if (
      !settings.pinned.has('dataDir') &&
      dataDir !== undefined &&
      dataDir !== settings.dataDir &&
      warnedDataDir !== dataDir
    ) {
      warnedDataDir = dataDir;
      log.warn(
        { manifest: dataDir, running: settings.dataDir },
        'Node dataDir differs; pass --data-dir to move the data dir',
      );
    }
  };
}

async function ageIdentities(
  s: AgentSettings,
  log: Logger,
): Promise<Awaited<ReturnType<typeof loadAgeIdentities>> | undefined> {
  try {
    return await loadAgeIdentities({
      ...(s.ageKeyPath === undefined ? {} : { flagPath: s.ageKeyPath }),
      env: process.env,
      dataDir: s.dataDir,
    });
  } catch (err) {
    if (isOrunError(err, SopsErrorCode.NoKey)) return undefined;
    log.error({ err: errorMessage(err) }, 'loading the age key failed');
    return undefined;
  }
}

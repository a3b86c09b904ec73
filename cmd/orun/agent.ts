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
import { collectDefaultMetrics } from 'prom-client';
import { join } from 'node:path';
import { errorMessage, isOrunError } from '../../apis/errors.ts';
import { API_VERSION, objectKey, type ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { Node } from '../../apis/run.orcra.dev/v0alpha/node.ts';
import { formatDuration } from '../../apis/run.orcra.dev/v0alpha/duration.ts';
import { type DeploymentController, newDeploymentController } from '../../controllers/deployment/index.ts';
import { NodeController } from '../../controllers/node/index.ts';
import {
  newServiceGraphController,
  type ServiceGraphController,
} from '../../controllers/servicegraph/index.ts';
import { createApiServer } from '../../runtime/api/server.ts';
import { listenUnixSocket } from '../../runtime/api/socket.ts';
import { realClock } from '../../runtime/clock/index.ts';
import { VERSION } from '../../runtime/version/index.ts';
import { DockerEngine } from '../../runtime/docker/dockerode.ts';
import { EventRecorder } from '../../runtime/events/index.ts';
import { GitSource, type GitSourceStatus } from '../../runtime/git/index.ts';
import { GitInformer } from '../../runtime/informer/index.ts';
import { createLogger, type Logger } from '../../runtime/log/index.ts';
import { Manager, type Runnable, type SyncingRunnable } from '../../runtime/manager/index.ts';
import { newRegistry, RuntimeMetrics } from '../../runtime/metrics/index.ts';
import { NodeProcessRunner } from '../../runtime/process/index.ts';
import { loadAgeIdentities, SopsErrorCode } from '../../runtime/sops/index.ts';
import { Store } from '../../runtime/store/index.ts';
import { agentApiBackend } from './api-backend.ts';
import { buildIngress, type Ingress } from './ingress.ts';
import { nodeOverrides, type AgentSettings } from './options.ts';

/** A running agent's parts, for tests and for the API backend. */
export interface Agent {
  manager: Manager;
  store: Store;
  recorder: EventRecorder;
  informer: GitInformer;
  logger: Logger;
}

/** Builds the agent; `start(signal)` on its manager runs it. */
export function buildAgent(
  settings: AgentSettings,
  logger: Logger = createLogger({ level: settings.logLevel }),
): Agent {
  const clock = realClock;
  const registry = newRegistry();
  // process_* and nodejs_* (CPU, memory, event loop lag, GC), as every Node.js exporter has.
  collectDefaultMetrics({ register: registry });
  // prom-client also exports these gauges under a `_total` name, which `promtool check metrics`
  // rejects (only counters end in _total); nodejs_active_{handles,requests,resources} carry the same.
  for (const n of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ])
    registry.removeSingleMetric(n);
  const metrics = new RuntimeMetrics(registry);
  const store = new Store({ clock });
  const recorder = new EventRecorder({ clock });
  const engine = new DockerEngine();
  const nodeEvents = recorder.for('node-controller');

  let source: GitSource | undefined;
  const informer = new GitInformer({
    store,
    nodeName: settings.node,
    settings: { branch: settings.branch, pollIntervalMs: settings.pollIntervalMs },
    newSource: (s) =>
      (source = new GitSource({
        remote: settings.repo,
        branch: s.branch,
        dir: join(settings.dataDir, 'repo'),
        pollInterval: s.pollIntervalMs,
        ...(settings.sshKeyPath === undefined ? {} : { sshKeyPath: settings.sshKeyPath }),
        logger,
        registry,
      })),
    fallbackNode: () => fallbackNode(settings),
    identities: () => ageIdentities(settings, logger),
    events: nodeEvents,
    logger,
  });
  const gitStatus = (): GitSourceStatus =>
    source?.status() ?? { ready: false, reason: 'Progressing', message: 'starting', consecutiveFailures: 0 };

  // Built when the controllers group starts: the store then holds this node's Node (codeDir).
  let deploymentController: DeploymentController | undefined;
  const deployments: Runnable = {
    name: 'deployment',
    start: (signal) => {
      const node = store.get<Node>('Node', settings.node);
      deploymentController = newDeploymentController({
        engine,
        store,
        events: recorder.for('deployment-controller'),
        clock,
        registry,
        logger,
        controllerMetrics: metrics,
        resolveSecret: informer.resolveSecret,
        nodeName: settings.node,
        ...(node?.spec.codeDir === undefined ? {} : { codeDir: node.spec.codeDir }),
      });
      return deploymentController.start(signal);
    },
  };
  // Orchfile graphs (host processes + containers); services outlive the agent and are adopted.
  let serviceGraphController: ServiceGraphController | undefined;
  const serviceGraphs: Runnable = {
    name: 'servicegraph',
    start: (signal) => {
      serviceGraphController = newServiceGraphController({
        store,
        engine,
        processes: new NodeProcessRunner(),
        clock,
        registry,
        logger,
        controllerMetrics: metrics,
        events: recorder.for('servicegraph-controller'),
        // Orchfiles are read at the revision the store holds; none while a newer one is checked out.
        checkout: () => informer.appliedCheckout(),
        revisions$: informer.applied$,
        dataDir: settings.dataDir,
        nodeName: settings.node,
      });
      return serviceGraphController.start(signal);
    },
  };
  // The branch the node tracks: a flag/env/config pin, else the Node manifest, else the default.
  const trackedBranch = (): string => {
    const node = store.get<Node>('Node', settings.node);
    return node === undefined ? settings.branch : nodeOverrides(settings, node.spec).branch;
  };
  const ingress: Ingress | undefined =
    settings.ingress === 'caddy'
      ? buildIngress({ settings, store, recorder, clock, registry, metrics, logger, branch: trackedBranch })
      : undefined;
  const nodes = new NodeController({
    nodeName: settings.node,
    store,
    gitStatus,
    lastApplied: () => informer.lastResult(),
    applied$: informer.applied$,
    onSpec: liveSettings(settings, informer, logger, (branch) => ingress?.setBranch(branch)),
    events: nodeEvents,
    clock,
    logger,
    metrics,
    resyncMs: Math.min(settings.pollIntervalMs, 5000),
  });

  const manager = new Manager({ logger, clock, syncTimeoutMs: 2 ** 31 - 1 });
  manager.serveProbes(settings.metricsAddress, registry);
  manager.addServer(
    apiServer(settings.socket, logger, {
      version: VERSION,
      nodeName: settings.node,
      store,
      recorder,
      engine,
      syncSource: () => void source?.syncNow(),
      enqueue: (kind, name) => {
        if (kind === 'Deployment' && deploymentController !== undefined) {
          deploymentController.controller.enqueue(objectKey(kind, name));
          return true;
        }
        if (kind === 'Node' && name === settings.node) {
          nodes.controller.enqueue(nodes.key);
          return true;
        }
        if (kind === 'Service' && ingress !== undefined) return ingress.enqueue();
        if (kind === 'ServiceGraph' && serviceGraphController !== undefined) {
          serviceGraphController.requestReconcile(name);
          return true;
        }
        return false;
      },
    }),
  );
  if (ingress !== undefined) manager.addServer(ingress.caddy);
  manager.addSource(informer);
  manager.addController(deployments);
  manager.addController(nodes);
  manager.addController(serviceGraphs);
  if (ingress !== undefined) manager.addController(ingress.services);
  return { manager, store, recorder, informer, logger };
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

/** What the Node manifest may change live: branch and poll interval (unless pinned). */
function liveSettings(
  settings: AgentSettings,
  informer: GitInformer,
  log: Logger,
  onBranch: (branch: string) => void,
): (node: Readonly<Node>) => void {
  let warnedDataDir: string | undefined;
  return (node) => {
    const live = nodeOverrides(settings, node.spec);
    informer.reconfigure(live);
    onBranch(live.branch);
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

/** The local API on its unix socket, as a runnable of the servers group. */
function apiServer(path: string, log: Logger, parts: Parameters<typeof agentApiBackend>[0]): SyncingRunnable {
  let ready!: () => void;
  const synced = new Promise<void>((r) => (ready = r));
  return {
    name: 'api-server',
    synced,
    start: async (signal) => {
      const server = createApiServer(agentApiBackend(parts), {
        onError: (err, req) => log.error({ err: errorMessage(err), ...req }, 'local API request failed'),
      });
      const listener = await listenUnixSocket(path, server);
      log.info({ socket: path }, 'local API listening');
      ready();
      await new Promise<void>((r) =>
        signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true }),
      );
      await listener.close();
    },
  };
}

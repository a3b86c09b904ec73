// scratch (not committed): an agent with 50 Ready Deployments, kept up until SIGTERM.
import { writeFileSync } from 'node:fs';
import { Agent, Workspace, deploymentYaml, freePorts, nodeYaml, requireDockerAndImage, runBench, sleep } from './support/agent-bench.ts';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
let ws: Workspace | undefined;
let agent: Agent | undefined;
runBench(async () => {
  requireDockerAndImage();
  ws = new Workspace();
  const ports = await freePorts(50);
  const files: Record<string, string> = { [`nodes/${ws.node}.yaml`]: nodeYaml(ws.node, ws.repo.bare) };
  for (const [i, port] of ports.entries()) {
    const name = `${ws.prefix}${String(i).padStart(2, '0')}`;
    files[`deployments/${name}.yaml`] = deploymentYaml(name, port, { INDEX: String(i), MODE: 'production' });
  }
  ws.repo.write(files).commit('50');
  const [mp] = await freePorts(1);
  agent = new Agent({ repo: ws.repo.bare, node: ws.node, dataDir: ws.dataDir, metricsPort: mp!, pollInterval: '60s' });
  for (;;) {
    await sleep(1000);
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '../dist/orunctl.js'), '--socket', agent.socket, 'get', 'deploy'], { encoding: 'utf8' });
    const n = r.stdout.split('\n').filter((l) => / 1\/1 +Running /.test(l)).length;
    console.log('ready', n);
    if (n === 50) break;
    if (!agent.alive()) throw new Error(agent.stderr);
  }
  writeFileSync('/tmp/h27/socket', agent.socket);
  writeFileSync('/tmp/h27/agentpid', String(agent.proc.pid));
  console.log('UP', agent.socket);
  await new Promise(() => {});
}, async () => { await agent?.stop(); ws?.cleanup(); });

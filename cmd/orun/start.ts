import { setFlagsFromString } from 'node:v8';
import { Command, Option } from 'commander';
import { START_FLAGS, rawFromFlags } from '../../runtime/config/flags.ts';
import {
  envSettings,
  fileSettings,
  resolveSettings,
  type SettingName,
} from '../../runtime/config/settings.ts';
import { installSignalHandlers } from '../../runtime/manager/index.ts';
import { runAgent } from './agent.ts';

/** `orun start`: run the agent on this node in the foreground (flags → settings → agent). */
export function startCommand(): Command {
  const command = new Command('start').description(
    'run the agent on this node: poll the manifest repository and reconcile containers',
  );
  // Each setting's flag (runtime/config/flags.ts), remembered by commander's attribute name.
  const attributes = new Map<SettingName, string>();
  for (const f of START_FLAGS) {
    const option = new Option(f.flags, f.help);
    if (f.choices !== undefined) option.choices(f.choices);
    if (f.repeatable === true)
      option.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    attributes.set(f.setting, option.attributeName());
    command.addOption(option);
  }
  return command
    .option('--config <file>', 'YAML config file with the same settings in camelCase (env ORUN_CONFIG)')
    .action(async (flags: Record<string, unknown>) => {
      // The agent runs for months beside the workloads: V8's size-over-speed heuristics. (The young
      // generation's size cannot be set here: V8 fixes it when the isolate is made. After a burst
      // the memory-trim server gives it back: runtime/manager/memory.ts.)
      setFlagsFromString('--optimize-for-size');
      const given = new Map([...attributes].map(([setting, attr]) => [setting, flags[attr]] as const));
      const configPath = (flags.config as string | undefined) ?? process.env.ORUN_CONFIG;
      const fromFile = configPath === undefined ? {} : await fileSettings(configPath);
      const settings = resolveSettings([rawFromFlags(given), envSettings(process.env), fromFile]);
      const { signal, dispose } = installSignalHandlers();
      try {
        await runAgent(settings, signal);
      } finally {
        dispose();
      }
    });
}

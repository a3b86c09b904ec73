/**
 * Host services: `ProcessRunner` (spawn a shell command as its own process group, exec a command
 * to completion, signal a group), the real `NodeProcessRunner`, the `FakeProcessRunner` and
 * `stopProcessGroup` (STOP command / SIGTERM, then SIGKILL after the grace period).
 */
export * from './runner.ts';
export { NodeProcessRunner } from './node.ts';
export { FakeProcess, FakeProcessRunner, type FakeScript } from './fake.ts';
export { stopProcessGroup, stringEnv, type StopOptions, type StopOutcome } from './stop.ts';

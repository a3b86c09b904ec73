/**
 * The SSH edge (`orun bootstrap`): SshConnector/SshSession with a real ssh2 implementation and a
 * fake, known_hosts with accept-new semantics, and shellQuote for building remote commands.
 *
 * @example
 * const session = await new Ssh2Connector().connect({ host: 'node1', privateKeyPath: '~/.ssh/id_ed25519' });
 * try {
 *   const { code, stdout } = await session.exec(shellCommand(['cat', '--', '/etc/os-release']));
 *   await session.upload(Buffer.from('X=1\n'), '/tmp/x.env', 0o644);
 * } finally {
 *   await session.close();
 * }
 */
export { SshErrorCode, formatTarget } from './client.ts';
export type { ExecOptions, ExecResult, SshConnector, SshSession, SshTarget } from './client.ts';
export { FakeSshConnector, FakeSshSession } from './fake.ts';
export type { FakeExecHandler, FakeFile, FakeSshCall, FakeSshConnectorOptions } from './fake.ts';
export { KnownHosts, fingerprint, hostEntryName, keyTypeOf, matchesPatterns } from './knownhosts.ts';
export type { HostKey, HostKeyVerdict } from './knownhosts.ts';
export { QuoteErrorCode, shellAnd, shellCommand, shellQuote, shellSplit, shellSplitList } from './quote.ts';
export { Ssh2Connector, expandHome } from './ssh2-client.ts';

/** The action of a command a later issue fills in: says so honestly and exits 1. */
export function notImplemented(name: string, issue: number): () => void {
  return () => {
    process.stderr.write(`orun ${name}: not implemented yet (see issue ${issue})\n`);
    process.exitCode = 1;
  };
}

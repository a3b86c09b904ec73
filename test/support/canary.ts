/**
 * For the tests that run the Orchfile spec example (orch up, the agent's ServiceGraph, rendered
 * systemd units) on the Debian-built postgres and the flyway stand-in.
 */
import { execFileSync } from 'node:child_process';

/** Rows in the migrations table db-migrate (the flyway stand-in) writes, read through postgres's published port. */
export function migrations(port: number): number {
  const sql = 'SELECT count(*) FROM migrations';
  const out = execFileSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'canary', '-tAc', sql], {
    encoding: 'utf8',
  }); // prettier-ignore
  return Number(out.trim());
}

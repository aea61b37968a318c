// The services a request needs, built once at start and passed down (no globals).
import type { Logger } from 'pino';
import type { Database, Db } from '../db/client.ts';
import type { RevocationList } from './auth/revocation.ts';
import type { TokenService } from './auth/tokens.ts';
import type { Config } from './config.ts';
import type { Context } from './trpc/context.ts';
import type { Meta } from './trpc/init.ts';

export interface ProcedureReport {
  path: string;
  type: string;
  ok: boolean;
  code: string;
  durationMs: number;
  queries: number;
  ctx: Context;
}

/** Extension points the HTTP server wires up (metrics, rate limits). */
export interface ProcedureHooks {
  beforeProcedure?: (call: { ctx: Context; path: string; meta: Meta | undefined }) => Promise<void> | void;
  onProcedure?: (report: ProcedureReport) => void;
}

export interface AppDeps {
  config: Config;
  database: Database;
  /** The primary: writes and read-after-write. */
  db: Db;
  /** Read-only procedures (admin lists, analytics, directory); the primary when no replicas. */
  readDb: Db;
  tokens: TokenService;
  revocations: RevocationList;
  log: Logger;
  hooks: ProcedureHooks;
}

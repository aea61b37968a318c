// The one place that reads process.env: every variable of docs/api.md's configuration table,
// validated with zod. A bad value stops start-up with one line naming the variable.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import cron from 'node-cron';
import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const url = (protocols: string[]) =>
  z
    .string()
    .url()
    .refine(
      (v) => protocols.some((p) => v.startsWith(`${p}:`)),
      `must start with ${protocols.join(' or ')}:`,
    );

/** The privacy notice in force unless PRIVACY_NOTICE_VERSION names another. */
export const DEFAULT_PRIVACY_NOTICE_VERSION = '2026-11-30';

/** A comma-separated list; unset or empty → []. */
const commaList = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

const variables = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: port.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: url(['postgres', 'postgresql']).optional(),
  DATABASE_REPLICA_URLS: commaList.pipe(z.array(url(['postgres', 'postgresql']))),
  // A replica further behind the primary than this is skipped (reads go to the primary), and
  // a caller's reads stay on the primary for this + 1 s after their write.
  DATABASE_REPLICA_MAX_LAG_MS: positiveInt.max(60_000).default(1000),
  DATABASE_POOL_MAX: positiveInt.max(500).default(50),
  // What DATABASE_URL leads to: 'none' (PostgreSQL, or a session-mode pooler) or
  // 'transaction' (PgBouncer pool_mode=transaction and the like): unnamed statements only,
  // no session settings at connect (docs/decisions/transaction-pooler.md).
  DATABASE_POOLER: z.enum(['none', 'transaction']).default('none'),
  // How long a request may wait for a pooled connection before it fails with 503.
  DATABASE_POOL_WAIT_MS: positiveInt.max(60_000).default(500),
  // Longest a request waits for a statement or transaction (once it has a connection) before
  // answering 503 with Retry-After: a paused pooler or a hung connection never holds a
  // request. Below the balancer's server timeout; jobs are exempt (statement_timeout bounds them).
  DATABASE_CALL_TIMEOUT_MS: positiveInt.max(600_000).default(10_000),
  REDIS_URL: url(['redis', 'rediss']).optional(),
  // Redis behind Sentinel (instead of REDIS_URL): the sentinels as host:port, comma-separated,
  // and the name they monitor the primary by. Every Redis connection follows a failover.
  REDIS_SENTINELS: commaList.pipe(
    z.array(z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'must be host:port pairs, comma-separated')),
  ),
  REDIS_SENTINEL_NAME: z.string().min(1).default('mymaster'),
  // Redis's own password (AUTH; with REDIS_URL it may also be in the URL) and the sentinels'.
  REDIS_PASSWORD: z.string().min(1).optional(),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  JWT_PRIVATE_KEYS: z.string().min(1).optional(),
  JWT_SECRET: z
    .string()
    .optional()
    .refine((v) => v === undefined || Buffer.byteLength(v, 'utf8') >= 32, 'must be at least 32 bytes'),
  JWT_ISSUER: z.string().min(1).default('manas360'),
  JWT_AUDIENCE: z.string().min(1).default('manas360-api'),
  ACCESS_TOKEN_TTL_SECONDS: positiveInt.min(30).max(86_400).default(900),
  REFRESH_TOKEN_TTL_SECONDS: positiveInt
    .min(300)
    .max(90 * 86_400)
    .default(604_800),
  ADMIN_EMAIL: z.string().email().optional(),
  ADMIN_PASSWORD: z.string().min(12).max(128).optional(),
  // log2 of scrypt's N for new password hashes. Tests only (refused in production):
  // the production cost (17) takes ~300 ms per hash, which would dominate the suite.
  PASSWORD_HASH_COST: z.coerce.number().int().min(10).max(20).optional(),
  // Password hashing per process (server/limits/hashing.ts): hashes running at once, the
  // most one client IP may have running (and as many again waiting), and the waiting line;
  // beyond them TOO_MANY_REQUESTS with Retry-After.
  PASSWORD_HASH_CONCURRENCY: positiveInt.max(256).default(availableParallelism()),
  PASSWORD_HASH_PER_IP: positiveInt.max(1000).default(1),
  PASSWORD_HASH_QUEUE: z.coerce.number().int().min(0).max(10_000).default(32),
  RATE_LIMIT_ENABLED: bool.default(true),
  RATE_LIMIT_GENERAL_PER_MINUTE: positiveInt.default(600),
  RATE_LIMIT_REGISTER_PER_HOUR: positiveInt.default(20),
  RATE_LIMIT_CHECKOUT_PER_HOUR: positiveInt.default(10),
  RATE_LIMIT_LOGIN_FAILURES: positiveInt.default(10),
  RATE_LIMIT_LOGIN_FAILURES_PER_IP_PER_DAY: positiveInt.default(100),
  // Streamed downloads (server/limits/downloads.ts): open at once per user and per process
  // (429 beyond), and how long a reader may take nothing before the download is dropped.
  DOWNLOADS_PER_USER: positiveInt.max(100_000).default(2),
  DOWNLOADS_PER_PROCESS: positiveInt.max(100_000).default(100),
  DOWNLOAD_IDLE_SECONDS: positiveInt.max(3600).default(30),
  // reports.*: reports one user may start per report kind per hour (export.mine: one an hour).
  REPORTS_PER_HOUR: positiveInt.max(10_000).default(1),
  // therapy.book: booked sessions one patient may have ahead at once (docs/api.md).
  MAX_UPCOMING_BOOKINGS: positiveInt.max(1000).default(5),
  VIEW_REFRESH_CRON: z
    .string()
    .min(1)
    .refine((v) => cron.validate(v), 'must be a cron expression (node-cron), e.g. */5 * * * *')
    .default('23 * * * *'),
  AUDIT_RETENTION_DAYS: positiveInt.default(365),
  /** Registrations whose address was not confirmed within this many days are deleted (pending-account-cleanup). */
  PENDING_ACCOUNT_DAYS: positiveInt.default(7),
  JOBS_ENABLED: bool.default(true),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NOTES_ENCRYPTION_KEY: z
    .string()
    .optional()
    .refine(
      (v) =>
        v === undefined ||
        v.split(',').every((k) => Buffer.from(k.split(':').pop()!, 'base64').length === 32),
      'must be a base64 32-byte key (or kid:key pairs, comma-separated, newest first)',
    ),
  CORS_ORIGINS: commaList,
  TRUST_PROXY: bool.default(false),
  WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
  // After SIGTERM, how long readiness says 503 while the server still serves, so a load
  // balancer stops sending before the listener closes. Production: its health-check
  // interval × failure threshold (e.g. 5000); 0 in development.
  SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).max(120_000).default(0),
  MAX_BATCH_SIZE: positiveInt.max(100).default(10),
  // GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset → not served.
  METRICS_TOKEN: z.string().min(32, 'must be at least 32 characters').max(512).optional(),
  // Which tRPC HTTP path serves /trpc: the lean one (server/http/lean.ts) or tRPC's adapter.
  TRPC_PATH: z.enum(['lean', 'official']).default('lean'),
  // Where results are checked against their procedure's .output() schema: 'rest' (the /api
  // answers the OpenAPI document describes) or 'all' (every call, /trpc too, and a result
  // with a field the schema does not declare fails: the tests run so).
  OUTPUT_VALIDATION: z.enum(['rest', 'all']).default('rest'),
  // The privacy notice users must have accepted (docs/decisions/privacy-rights.md); a new
  // value asks every user again.
  PRIVACY_NOTICE_VERSION: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,40}$/, 'must be 1-40 letters, digits, dots, dashes or underscores')
    .default(DEFAULT_PRIVACY_NOTICE_VERSION),
  // privacy.deleteAccount: hours before the erasure job erases the account (cancellable).
  ACCOUNT_DELETION_GRACE_HOURS: z.coerce
    .number()
    .int()
    .min(0)
    .max(90 * 24)
    .default(14 * 24),
  // Crisis alerts (docs/api.md, crisis.*): minutes an alert may wait unacknowledged before
  // every admin is told, and again after as long once more (fractions of a minute: tests).
  CRISIS_ESCALATE_AFTER_MINUTES: z.coerce
    .number()
    .positive()
    .max(24 * 60)
    .default(10),
  // How often each instance looks for alerts due to escalate or to notify (the look is cheap:
  // one indexed UPDATE of the open alerts that are due).
  CRISIS_ESCALATION_CHECK_MS: positiveInt.min(50).max(300_000).default(15_000),
  // crisis.onChange: open subscriptions one user may hold at once, and one process in all.
  CRISIS_SUBSCRIPTIONS_PER_USER: positiveInt.max(100).default(5),
  SUBSCRIPTIONS_PER_PROCESS: positiveInt.max(100_000).default(10_000),
  // Paid plans through Razorpay (docs/decisions/subscriptions-and-payments.md). Off: the
  // checkout answers PRECONDITION_FAILED and POST /webhooks/razorpay does not exist.
  PAYMENTS_ENABLED: bool.default(false),
  RAZORPAY_KEY_ID: z
    .string()
    .regex(/^rzp_(test|live)_[A-Za-z0-9]{6,40}$/, 'must look like rzp_test_… or rzp_live_…')
    .optional(),
  RAZORPAY_KEY_SECRET: z.string().min(8).max(200).optional(),
  RAZORPAY_WEBHOOK_SECRET: z.string().min(8).max(200).optional(),
  RAZORPAY_API_URL: url(['https', 'http']).default('https://api.razorpay.com'),
  // Second factors (docs/decisions/staff-mfa.md). Passkeys are bound to this relying-party
  // id (the console's host name, e.g. console.manas360.in) and accepted from these origins
  // only. Origins unset: any http://localhost:<port> outside production, none in production
  // (passkeys refused; TOTP still works).
  WEBAUTHN_RP_ID: z
    .string()
    .regex(/^[a-z0-9.-]{1,253}$/, 'must be a host name (no scheme or port)')
    .default('localhost'),
  WEBAUTHN_RP_NAME: z.string().min(1).max(64).default('MANAS360'),
  WEBAUTHN_ORIGINS: commaList,
  // The durable job queue (pg-boss on the same database: docs/decisions/job-queue.md).
  // QUEUE_WORKERS: this API process also works the queue (false: only `npm run worker` does).
  QUEUE_WORKERS: bool.default(true),
  QUEUE_POLL_SECONDS: z.coerce.number().min(0.5).max(60).default(1),
  // Attempts per job (the first + retries), the first retry's delay (doubling, with jitter, up
  // to the max), and how long an attempt may run before it counts as failed (a dead worker).
  QUEUE_MAX_ATTEMPTS: positiveInt.max(50).default(10),
  QUEUE_RETRY_DELAY_SECONDS: positiveInt.max(3600).default(10),
  QUEUE_RETRY_DELAY_MAX_SECONDS: positiveInt.max(86_400).default(1800),
  QUEUE_JOB_TIMEOUT_SECONDS: positiveInt.min(5).max(3600).default(120),
  // How often pg-boss looks for expired (stuck) jobs and refreshes its counts.
  QUEUE_MAINTENANCE_SECONDS: positiveInt.max(3600).default(30),
  // Email over SMTP (nodemailer, pooled). Without SMTP_HOST no email is sent: the jobs wait.
  SMTP_HOST: z.string().min(1).max(253).optional(),
  SMTP_PORT: port.default(587),
  // true: TLS from the first byte (port 465); false: STARTTLS, required when SMTP_REQUIRE_TLS.
  SMTP_SECURE: bool.default(false),
  SMTP_REQUIRE_TLS: bool.default(true),
  SMTP_USER: z.string().min(1).max(256).optional(),
  SMTP_PASSWORD: z.string().min(1).max(512).optional(),
  // A PEM file of the CA(s) the SMTP server's certificate is checked against (default: the system's).
  SMTP_TLS_CA_FILE: z.string().min(1).optional(),
  SMTP_POOL_MAX: positiveInt.max(50).default(3),
  SMTP_TIMEOUT_MS: positiveInt.min(1000).max(300_000).default(30_000),
  // Concurrent sends per worker process.
  EMAIL_CONCURRENCY: positiveInt.max(100).default(4),
  EMAIL_FROM: z
    .string()
    .regex(/^[^<>\r\n]{0,100}<?[^@\s<>]+@[^@\s<>]+>?$/, 'must be an address, optionally "Name <address>"')
    .default('MANAS360 <no-reply@manas360.invalid>'),
  // The web app's base URL: links in emails (password reset, address verification).
  APP_URL: url(['https', 'http']).default('http://localhost:5173'),
});

/** Every variable the configuration reads. */
export const CONFIG_VARIABLES = Object.keys(variables.shape);

export const configSchema = variables.superRefine((c, ctx) => {
  if (c.SHUTDOWN_DELAY_MS >= c.SHUTDOWN_TIMEOUT_MS)
    ctx.addIssue({
      code: 'custom',
      path: ['SHUTDOWN_DELAY_MS'],
      message: 'must be shorter than SHUTDOWN_TIMEOUT_MS',
    });
  if (c.WORKERS > 1 && !c.DATABASE_URL)
    ctx.addIssue({
      code: 'custom',
      path: ['WORKERS'],
      message: 'above 1 needs DATABASE_URL (the embedded database serves one process)',
    });
  if (c.REDIS_URL && c.REDIS_SENTINELS.length > 0)
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_SENTINELS'],
      message: 'cannot be combined with REDIS_URL (set one of them)',
    });
  if (c.PAYMENTS_ENABLED)
    for (const key of ['RAZORPAY_KEY_ID', 'RAZORPAY_KEY_SECRET', 'RAZORPAY_WEBHOOK_SECRET'] as const)
      if (!c[key])
        ctx.addIssue({ code: 'custom', path: [key], message: 'is required when PAYMENTS_ENABLED=true' });
  if (c.NODE_ENV !== 'production') return;
  const need = (key: keyof typeof c, why: string) =>
    ctx.addIssue({ code: 'custom', path: [key], message: why });
  if (!c.DATABASE_URL)
    need('DATABASE_URL', 'is required in production (the embedded database is for development)');
  if (!c.REDIS_URL && c.REDIS_SENTINELS.length === 0)
    need(
      'REDIS_URL',
      'or REDIS_SENTINELS is required in production (rate limits and revocation must be shared)',
    );
  if (!c.JWT_PRIVATE_KEYS && !c.JWT_SECRET)
    need('JWT_PRIVATE_KEYS', 'or JWT_SECRET is required in production (generated keys are for development)');
  if (!c.NOTES_ENCRYPTION_KEY) need('NOTES_ENCRYPTION_KEY', 'is required in production');
  if (!c.RATE_LIMIT_ENABLED) need('RATE_LIMIT_ENABLED', 'cannot be false in production');
  if (c.PAYMENTS_ENABLED && !c.RAZORPAY_API_URL.startsWith('https:'))
    need('RAZORPAY_API_URL', 'must be https in production');
  if (c.ACCOUNT_DELETION_GRACE_HOURS < 24)
    need(
      'ACCOUNT_DELETION_GRACE_HOURS',
      'must be at least 24 in production (the user may change their mind)',
    );
  if (c.CRISIS_ESCALATE_AFTER_MINUTES < 1)
    need('CRISIS_ESCALATE_AFTER_MINUTES', 'must be at least 1 in production (fractions are for tests)');
  if (c.PASSWORD_HASH_COST !== undefined)
    need('PASSWORD_HASH_COST', 'is for tests only and cannot be set in production');
});

export type Config = z.infer<typeof configSchema>;

/**
 * What `npm run db:migrate` needs: the database, nothing else (no Redis, no keys). In
 * production that is DATABASE_URL: migrating the embedded database there would report
 * success for a database the server never uses.
 */
export const migrateConfigSchema = variables
  .pick({
    NODE_ENV: true,
    DATABASE_URL: true,
    DATA_DIR: true,
    DATABASE_POOLER: true,
  })
  .superRefine((c, ctx) => {
    if (c.NODE_ENV === 'production' && !c.DATABASE_URL)
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_URL'],
        message: 'is required in production (the embedded database is for development): nothing was migrated',
      });
  });
export type MigrateConfig = z.infer<typeof migrateConfigSchema>;

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

/** Parses an environment; throws ConfigError with one line per bad variable. */
export function loadConfig(env: Env = process.env): Config {
  return parse(configSchema, env);
}

export function loadMigrateConfig(env: Env = process.env): MigrateConfig {
  return parse(migrateConfigSchema, env);
}

function parse<S extends z.ZodType>(schema: S, env: Env): z.infer<S> {
  // An empty variable means unset, as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map(
    (i) => `invalid configuration: ${String(i.path[0] ?? '?')} ${i.message}`,
  );
  throw new ConfigError(lines.join('\n'));
}

/**
 * Loads ./.env (if present) into process.env, as the server and scripts do first. Variables
 * already set in the environment win over the file.
 */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}

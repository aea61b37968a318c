// Migrated templates the test databases start from: migrating is the slow part of a test
// file's set-up (23 migrations: ~12 s of PGlite on a quiet core, a minute on a loaded one),
// so test/global-setup.ts migrates once per run and every file copies the result.
// - PGlite: a migrated data directory dumped to node_modules/.cache (a gzipped tarball),
//   loaded by each in-memory PGlite (createTestDatabase).
// - PostgreSQL (DATABASE_URL): a template database, copied by CREATE DATABASE … TEMPLATE.
// Both are named by a hash of migrations/ (and the PGlite version): a changed, added or
// removed migration makes a new template; an unchanged one is reused by the next run.
// test/migrate.test.ts still migrates empty databases for real.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { createDatabase, MIGRATIONS_FOLDER } from '../db/client.ts';

const CACHE_DIR = fileURLToPath(new URL('../node_modules/.cache/manas360-tests', import.meta.url));

/** A hash of every file under migrations/ (paths and contents): the templates' key. */
export function migrationsHash(folder = MIGRATIONS_FOLDER): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else
        hash
          .update(`${relative(folder, path)}\0`)
          .update(readFileSync(path))
          .update('\0');
    }
  };
  walk(folder);
  return hash.digest('hex').slice(0, 16);
}

function pgliteVersion(): string {
  const manifest = new URL('../node_modules/@electric-sql/pglite/package.json', import.meta.url);
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** The migrated PGlite dump's path, built (once per migrations hash) if missing. */
export async function ensurePgliteTemplate(): Promise<string> {
  const path = join(CACHE_DIR, `pglite-${pgliteVersion()}-${migrationsHash()}.tar.gz`);
  if (existsSync(path)) return path;
  const database = await createDatabase({ memory: true });
  try {
    await database.migrate();
    const dump = await database.dumpDataDir!();
    mkdirSync(CACHE_DIR, { recursive: true });
    // Written beside, then renamed: a run reading it never sees half a file.
    const partial = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, path);
  } finally {
    await database.close();
  }
  return path;
}

/** The migrated template database on the server at `url` (created once per migrations hash). */
export async function ensurePostgresTemplate(url: string): Promise<string> {
  const name = `manas360_tpl_${migrationsHash()}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // Runs of other checkouts share the server: one builds a given template, the others wait.
    await admin`SELECT pg_advisory_lock(hashtext(${name}))`;
    const [found] = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`;
    if (!found) {
      const building = `${name}_b${randomBytes(3).toString('hex')}`;
      await admin.unsafe(`CREATE DATABASE "${building}"`);
      try {
        const target = new URL(url);
        target.pathname = `/${building}`;
        const database = await createDatabase({ url: target.toString(), poolMax: 1 });
        try {
          await database.migrate();
        } finally {
          await database.close();
        }
        await admin.unsafe(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
      } catch (err) {
        await admin.unsafe(`DROP DATABASE IF EXISTS "${building}" WITH (FORCE)`);
        throw err;
      }
      // Nobody may connect to it: CREATE DATABASE … TEMPLATE refuses a template in use.
      await admin.unsafe(`ALTER DATABASE "${name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
    }
    return name;
  } finally {
    await admin`SELECT pg_advisory_unlock(hashtext(${name}))`.catch(() => {});
    await admin.end({ timeout: 5 });
  }
}

/**
 * Copies the template's database-level settings (ALTER DATABASE … SET, which migration 0016
 * makes and CREATE DATABASE … TEMPLATE does not copy) to the new database.
 */
export async function copyDatabaseSettings(admin: postgres.Sql, template: string, target: string) {
  const rows = await admin<{ setconfig: string[] }[]>`
    SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
    WHERE d.datname = ${template} AND s.setrole = 0`;
  for (const setting of rows[0]?.setconfig ?? []) {
    const eq = setting.indexOf('=');
    const [key, value] = [setting.slice(0, eq), setting.slice(eq + 1)];
    if (!/^[a-z_.]+$/.test(key)) throw new Error(`unexpected database setting ${key}`);
    await admin.unsafe(`ALTER DATABASE "${target}" SET ${key} = '${value.replaceAll("'", "''")}'`);
  }
}

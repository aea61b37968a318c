// What the server says when it starts: where to go next (the API, its documentation, the
// admin console, how to fill the embedded database), and a warning on a Node.js it does not
// support (package.json "engines", .nvmrc).
import { resolve } from 'node:path';
import type { Config } from './config.ts';

/** The oldest Node.js major the server supports (package.json engines: >=24). */
export const SUPPORTED_NODE_MAJOR = 24;

/** A warning for an unsupported Node.js version, or undefined. */
export function nodeVersionWarning(version = process.versions.node): string | undefined {
  const major = Number(version.split('.')[0]);
  if (major >= SUPPORTED_NODE_MAJOR) return undefined;
  return `warning: Node.js ${version} is not supported: MANAS360 needs Node.js ${SUPPORTED_NODE_MAJOR} or newer (.nvmrc); expect failures`;
}

/** The base URL a person on this machine opens, from the address the server listens on. */
export function browsableUrl(address: string): string {
  const url = new URL(address);
  // Listening on every interface: this machine reaches it as localhost.
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = 'localhost';
  return url.origin;
}

export interface StartupInfo {
  api: string;
  docs: string;
  admin: string;
  /** The embedded database's directory (no DATABASE_URL), else undefined. */
  embeddedDatabase?: string;
}

export function startupInfo(config: Pick<Config, 'DATABASE_URL' | 'DATA_DIR'>, address: string): StartupInfo {
  const api = browsableUrl(address);
  return {
    api,
    docs: `${api}/docs`,
    admin: `${api}/admin`,
    ...(config.DATABASE_URL ? {} : { embeddedDatabase: resolve(config.DATA_DIR, 'pglite') }),
  };
}

/** The lines printed once the server listens (development and test; production logs JSON). */
export function startupLines(info: StartupInfo): string[] {
  return [
    `MANAS360 API ready at ${info.api}`,
    `  API documentation (Swagger UI): ${info.docs}`,
    `  Admin console:                  ${info.admin}`,
    ...(info.embeddedDatabase
      ? [
          `  Embedded database (PGlite):     ${info.embeddedDatabase}`,
          '  Sample data: stop the server, run `npm run db:seed`, start it again',
        ]
      : ['  Database: DATABASE_URL (sample data: `npm run db:seed`)']),
  ];
}

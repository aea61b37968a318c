// Serves the built admin console (web/admin → dist/admin, `npm run build`) at /admin:
// hashed assets cached for a year as immutable, index.html never cached (so a release is
// picked up at once), and any other /admin/* path answers index.html (the console's own
// routes). A strict Content-Security-Policy: scripts and styles from this origin only,
// calls to this origin only, no framing.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const CONSOLE_PATH = '/admin';
/** dist/admin: beside the bundle (dist/server.js) in production, two levels up from this source file otherwise. */
const HERE = fileURLToPath(new URL('.', import.meta.url));
export const CONSOLE_DIR = basename(HERE) === 'dist' ? join(HERE, 'admin') : join(HERE, '../../dist/admin');

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const IMMUTABLE = 'public, max-age=31536000, immutable';

export async function registerAdminConsole(app: FastifyInstance, dir = CONSOLE_DIR): Promise<void> {
  await app.register(
    async (scope) => {
      scope.addHook('onRequest', (_req, reply, done) => {
        reply.header('content-security-policy', CONSOLE_CSP);
        done();
      });
      if (!existsSync(`${dir}/index.html`)) {
        const notBuilt = async (_req: FastifyRequest, reply: FastifyReply) =>
          reply.code(503).type('text/plain').send('The admin console is not built: run npm run build');
        // /admin itself too (the link at / and in the start-up message), not only /admin/*.
        scope.get('/', notBuilt);
        scope.get('/*', notBuilt);
        return;
      }
      const assets = join(dir, 'assets');
      await scope.register(fastifyStatic, {
        root: dir,
        wildcard: false,
        index: false,
        // Vite names every asset by its content hash: a changed file gets a new name.
        setHeaders: (reply, path) => {
          reply.header('cache-control', path.startsWith(assets) ? IMMUTABLE : 'no-cache');
        },
      });
      // The console's own routes (/admin, /admin/users/…) are the page; a missing asset is a 404.
      const page = (req: FastifyRequest, reply: FastifyReply) => {
        if (req.url.startsWith(`${CONSOLE_PATH}/assets/`))
          return reply.code(404).send({ error: 'Not found' });
        reply.header('cache-control', 'no-cache');
        return reply.sendFile('index.html');
      };
      scope.get('/', page);
      scope.get('/*', page);
    },
    { prefix: CONSOLE_PATH },
  );
}

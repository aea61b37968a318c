// GET /: what this server offers and where (a person opening the bare address in a browser
// gets a page of links; a program gets the same as JSON). Nothing here is secret.
import type { FastifyInstance } from 'fastify';

/** The server's entry points, as GET / lists them. */
export const HOME_LINKS = [
  { rel: 'docs', href: '/docs', title: 'API documentation (Swagger UI)' },
  { rel: 'openapi', href: '/openapi.json', title: 'OpenAPI document of the REST API (/api)' },
  { rel: 'admin', href: '/admin', title: 'Admin console' },
  { rel: 'trpc', href: '/trpc', title: 'tRPC endpoint (typed client: packages/client)' },
  { rel: 'health', href: '/healthz', title: 'Liveness' },
  { rel: 'ready', href: '/readyz', title: 'Readiness (database and Redis)' },
  { rel: 'jwks', href: '/.well-known/jwks.json', title: 'Public keys of the access tokens' },
] as const;

const NAME = 'MANAS360 API';
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${NAME}</title></head>
<body><main><h1>${NAME}</h1><ul>
${HOME_LINKS.map((l) => `<li><a href="${l.href}">${l.title}</a> <code>${l.href}</code></li>`).join('\n')}
</ul></main></body></html>
`;

export function registerHome(app: FastifyInstance): void {
  app.get('/', (req, reply) => {
    // A browser asks for HTML first; anything else (curl's */*, a program) gets JSON.
    const html = (req.headers.accept ?? '').includes('text/html');
    if (html) return reply.type('text/html; charset=utf-8').send(PAGE);
    return reply.send({ name: NAME, links: HOME_LINKS });
  });
}

// An API host as a deployment runs it: services built by createDeps from the configuration
// alone (its own pool on a database URL, Redis from REDIS_URL / REDIS_SENTINELS), the Fastify
// app on a free port, and a typed client. Several hosts on one database act as a cluster.
import type { AddressInfo } from 'node:net';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import superjson from 'superjson';
import { buildServer } from '../../server/app.ts';
import { closeDeps, createDeps, createLogger } from '../../server/create-services.ts';
import type { AppDeps } from '../../server/services.ts';
import type { AppRouter } from '../../shared/index.ts';
import { testConfig } from '../helpers.ts';
import { bearer } from '../server.ts';

export interface Host {
  url: string;
  deps: AppDeps;
  client(token?: string): ReturnType<typeof createTRPCClient<AppRouter>>;
  close(): Promise<void>;
}

/** env: configuration over testConfig's (DATABASE_URL required; give every host the same JWT_SECRET). */
export async function startHost(env: Record<string, string>): Promise<Host> {
  const config = testConfig(env);
  const deps = await createDeps(config, { log: createLogger(config) });
  const app = await buildServer(deps);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    url,
    deps,
    client: (token) =>
      createTRPCClient<AppRouter>({
        links: [
          httpBatchLink({
            url: `${url}/trpc`,
            transformer: superjson,
            headers: () => bearer(token),
            maxItems: 1,
          }),
        ],
      }),
    async close() {
      await app.close();
      await closeDeps(deps);
    },
  };
}

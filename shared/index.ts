// The one entry clients import. In this repository: `import type { AppRouter } from '../shared/index.ts'`;
// elsewhere: the `@manas360/api-client` package built from it (packages/client, `npm run build:client`).
// Type-only re-exports: a client bundle pulls no server code from here.
import type { inferRouterInputs, inferRouterOutputs, TRPCBuiltRouter } from '@trpc/server';
import type { AppRouter as ServerAppRouter } from '../server/routers/index.ts';
import type { SessionRouter as ServerSessionRouter } from '../server/routers/session.ts';

/**
 * A router as a client sees it: the server's procedures, meta, error shape and transformer,
 * with the server's request context (database, Redis, keys: the whole services graph)
 * erased. A client never supplies a context, and keeping it would make every client compile
 * the server's sources and need its dependencies.
 */
type ClientView<R extends ServerAppRouter | ServerSessionRouter> =
  R extends TRPCBuiltRouter<infer Root, infer Record>
    ? TRPCBuiltRouter<
        { ctx: object; meta: Root['meta']; errorShape: Root['errorShape']; transformer: Root['transformer'] },
        Record
      >
    : never;

export type AppRouter = ClientView<ServerAppRouter>;
export type { ViewRefresh } from '../db/views.ts';
// The named types procedure outputs use: exported, so a client's declaration emit can name
// them (TS4058 otherwise, e.g. for a function returning auth.login's user).
export type { AuthResult, SessionUser, TokenPair } from '../server/domain/auth.ts';
export type { Checkout } from '../server/domain/subscriptions.ts';
export type { Meta } from '../server/trpc/meta.ts';
export type SessionRouter = ClientView<ServerSessionRouter>;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
export * from './audit.ts';
export * from './catalog.ts';
export * from './errors.ts';

// The one entry clients import: `import type { AppRouter, RouterInputs, RouterOutputs } from '<this package>/shared'`.
// Type-only re-exports: a client bundle pulls no server code from here.
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../server/routers/index.ts';
import type { SessionRouter } from '../server/routers/session.ts';

export type { AppRouter, SessionRouter };
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
export * from './audit.ts';
export * from './catalog.ts';
export * from './errors.ts';

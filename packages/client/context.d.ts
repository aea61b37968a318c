// What the client bundle sees of server/trpc/context.ts: nothing. A router's request
// context is the server's business (its database, Redis, keys); shared/index.ts erases it
// from AppRouter, and this stands in for it so the declaration bundle does not drag the
// services graph (and its dependencies' types) into a client's compilation.
export type Context = object;

// The REST route a procedure's path and type give it. The access policy each procedure
// declares with .meta({...}) (Meta) is part of its contract (shared/contract.ts); every
// check of it reads the token's claims alone: zero queries.
import type { Meta } from '../../shared/contract.ts';

export type { Meta };

/**
 * A procedure's REST route, derived from its path and type: a query is `GET /<path with dots
 * as slashes>` (input in the query string), a mutation `POST` (JSON body), under /api;
 * null for a subscription or a procedure with `restOff`.
 */
export function restRoute(
  path: string,
  type: 'query' | 'mutation' | 'subscription',
  meta: Meta | undefined,
): { method: 'GET' | 'POST'; path: `/${string}` } | null {
  if (type === 'subscription' || meta?.restOff !== undefined) return null;
  return { method: type === 'query' ? 'GET' : 'POST', path: `/${path.replaceAll('.', '/')}` };
}

// Instant revocation of access tokens with zero database queries per request.
// Two kinds of entries, both kept in process memory and checked on every request:
//   user → tokens_valid_after (epoch seconds): tokens with iat before it are dead
//          (logout-all, password change, suspension, role/plan change, admin revoke);
//   sid  → revoked session (refresh-token family) until its last access token expires
//          (logout).
// Entries are persisted in Postgres by the procedure that revokes (so a restarted
// instance reloads them) and published through Redis so every instance learns them
// within a second. Without Redis it works in one process.
import type { AccessClaims } from './tokens.ts';

export interface RevocationEvent {
  kind: 'user' | 'session';
  /** user id or session (family) id */
  id: string;
  /** user: tokens_valid_after; session: revoked until (epoch seconds) */
  at: number;
}

export class RevocationList {
  private readonly users = new Map<string, number>();
  private readonly sessions = new Map<string, number>();

  /** True when the token was revoked after it was issued. */
  isRevoked(claims: Pick<AccessClaims, 'sub' | 'sid' | 'iat'>): boolean {
    const validAfter = this.users.get(claims.sub);
    if (validAfter !== undefined && claims.iat < validAfter) return true;
    return this.sessions.has(claims.sid);
  }

  apply(event: RevocationEvent): void {
    const map = event.kind === 'user' ? this.users : this.sessions;
    const prev = map.get(event.id);
    if (prev === undefined || event.at > prev) map.set(event.id, event.at);
  }

  /** Forget entries that can no longer matter: every token they could kill has expired. */
  prune(nowSeconds: number, accessTtlSeconds: number): void {
    for (const [id, at] of this.users) if (at + accessTtlSeconds < nowSeconds) this.users.delete(id);
    for (const [id, until] of this.sessions) if (until < nowSeconds) this.sessions.delete(id);
  }

  get size(): number {
    return this.users.size + this.sessions.size;
  }
}

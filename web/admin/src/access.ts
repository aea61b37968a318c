// What the console shows follows the token's permissions; the server checks every call anyway.
import type { Permission } from '../../../shared/catalog.ts';
import type { Me } from './api.ts';

export const can = (me: Me, permission: Permission) => me.permissions.includes(permission as never);

export const PAGES = [
  { path: '/users', label: 'Users', permission: 'users.read' },
  { path: '/crisis', label: 'Crisis queue', permission: 'crisis.manage' },
  { path: '/audit', label: 'Audit log', permission: 'audit.read' },
  { path: '/views', label: 'Views', permission: 'views.refresh' },
  { path: '/jobs', label: 'Jobs', permission: 'jobs.manage' },
  { path: '/analytics', label: 'Analytics', permission: 'analytics.read' },
] as const satisfies ReadonlyArray<{ path: string; label: string; permission: Permission }>;

export const pagesFor = (me: Me) => PAGES.filter((p) => can(me, p.permission));

/** Pages about the signed-in account itself, for everyone the console lets in. */
export const ACCOUNT_PAGES = [
  { path: '/sessions', label: 'Your sessions' },
  { path: '/factors', label: 'Second factors' },
] as const;

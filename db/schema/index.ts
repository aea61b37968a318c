export * from './domain.ts';
export * from './rbac.ts';
export * from './users.ts';
export * from './views.ts';

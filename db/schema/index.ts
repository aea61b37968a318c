export * from './api-keys.ts';
export * from './domain.ts';
export * from './rbac.ts';
export * from './support.ts';
export * from './users.ts';
export * from './views.ts';

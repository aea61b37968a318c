export * from './api-keys.ts';
export * from './billing.ts';
export * from './domain.ts';
export * from './privacy.ts';
export * from './rbac.ts';
export * from './support.ts';
export * from './users.ts';
export * from './views.ts';

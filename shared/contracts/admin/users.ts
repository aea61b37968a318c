// admin.users.* (server/routers/admin/users.ts): the user list and detail, and the account
// changes (each refused for a target of the actor's privilege level or above).
import { z } from 'zod';
import { USER_STATUSES } from '../../catalog.ts';
import type { Contracts } from '../../contract.ts';
import {
  adminUsersListInput,
  setPlanInput,
  setRoleInput,
  suspendInput,
  userIdInput,
} from '../../inputs/admin-users.ts';
import { date, okOutput, page } from '../common.ts';

const adminUser = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.string(),
  privilegeLevel: z.number(),
  status: z.enum(USER_STATUSES),
  plan: z.string(),
  subscriptionStatus: z.string(),
  currentPeriodEnd: date.nullable(),
  createdAt: date,
});
export const adminUserPageOutput = page(adminUser);
export const adminUserOutput = adminUser.extend({
  suspendedReason: z.string().nullable(),
  lastLoginAt: date.nullable(),
  updatedAt: date,
});

export const adminUsersContract = {
  list: {
    meta: { auth: 'user', permission: 'users.read', openapi: { summary: 'Users, filtered and sorted' } },
    input: adminUsersListInput,
    output: adminUserPageOutput,
  },
  get: {
    meta: {
      auth: 'user',
      permission: 'users.read',
      openapi: { summary: "One user's account (an audited read)" },
    },
    input: userIdInput,
    output: adminUserOutput,
  },
  setRole: {
    meta: {
      auth: 'user',
      permission: 'roles.assign',
      stepUp: true,
      openapi: { summary: "Change a user's role" },
    },
    input: setRoleInput,
    output: okOutput,
  },
  setPlan: {
    meta: { auth: 'user', permission: 'subscriptions.manage', openapi: { summary: "Change a user's plan" } },
    input: setPlanInput,
    output: okOutput,
  },
  suspend: {
    meta: {
      auth: 'user',
      permission: 'users.manage',
      openapi: { summary: 'Suspend a user (their sessions end)' },
    },
    input: suspendInput,
    output: okOutput,
  },
  unsuspend: {
    meta: { auth: 'user', permission: 'users.manage', openapi: { summary: 'Lift a suspension' } },
    input: userIdInput,
    output: okOutput,
  },
  revokeSessions: {
    meta: { auth: 'user', permission: 'users.manage', openapi: { summary: 'End every session of a user' } },
    input: userIdInput,
    output: okOutput,
  },
} satisfies Contracts;

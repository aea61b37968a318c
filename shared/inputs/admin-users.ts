// admin.users.* inputs (docs/api.md).
import { z } from 'zod';
import { USER_STATUSES } from '../catalog.ts';
import { idInput, paginationInput, text } from './common.ts';

/** A role name as the catalog spells it (admins may add roles, so not a fixed enum). */
export const roleNameInput = z
  .string()
  .regex(/^[a-z][a-z0-9_]{1,39}$/, 'must be a role name such as therapist');
export const planCodeInput = z.string().regex(/^[a-z][a-z0-9_]{1,39}$/, 'must be a plan code such as basic');

export const USER_SORTS = ['createdAt', 'email', 'name'] as const;

export const adminUsersListInput = z
  .strictObject({
    /** Any part of the email or the name, case-insensitive. */
    search: text().trim().min(1).max(100).optional(),
    role: roleNameInput.optional(),
    plan: planCodeInput.optional(),
    status: z.enum(USER_STATUSES).optional(),
    sort: z.enum(USER_SORTS).default('createdAt'),
    order: z.enum(['asc', 'desc']).default('desc'),
    ...paginationInput,
  })
  .prefault({});
export type AdminUsersListInput = z.infer<typeof adminUsersListInput>;

export const setRoleInput = z.strictObject({ userId: idInput, role: roleNameInput });
export const setPlanInput = z.strictObject({ userId: idInput, planCode: planCodeInput });
export const suspendInput = z.strictObject({ userId: idInput, reason: text().trim().min(1).max(500) });
export const userIdInput = z.strictObject({ userId: idInput });

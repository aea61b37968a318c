// users.* (server/routers/users.ts): the caller's own profile and address. The therapist
// directory fields need `sessions.manage`: a field permission.
import { z } from 'zod';
import { USER_STATUSES } from '../catalog.ts';
import type { Contracts } from '../contract.ts';
import { changeEmailInput } from '../inputs/auth.ts';
import { THERAPIST_PROFILE_FIELDS, updateProfileInput } from '../inputs/users.ts';
import { date, okOutput } from './common.ts';

export const profileOutput = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  phone: z.string().nullable(),
  language: z.string().nullable(),
  role: z.string(),
  status: z.enum(USER_STATUSES),
  createdAt: date,
  therapist: z
    .object({
      specializations: z.array(z.string()),
      languages: z.array(z.string()),
      feePaise: z.number(),
      acceptingPatients: z.boolean(),
      bio: z.string().nullable(),
    })
    .nullable(),
});

export const usersContract = {
  profile: {
    meta: {
      auth: 'user',
      permission: 'profile.read',
      openapi: { summary: "The caller's profile" },
    },
    output: profileOutput,
  },
  updateProfile: {
    meta: {
      auth: 'user',
      permission: 'profile.update',
      // The directory fields describe a clinician: whoever sets them must manage sessions.
      fieldPermissions: { 'sessions.manage': THERAPIST_PROFILE_FIELDS },
      openapi: {
        summary: "Change the caller's profile",
      },
    },
    input: updateProfileInput,
    output: profileOutput,
  },
  changeEmail: {
    meta: {
      auth: 'user',
      permission: 'profile.update',
      openapi: {
        summary: 'Change the address (confirmed first)',
      },
    },
    input: changeEmailInput,
    output: okOutput,
  },
} satisfies Contracts;

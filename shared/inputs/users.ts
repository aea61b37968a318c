// users.* inputs (docs/api.md). The therapist fields are accepted only from callers holding
// `sessions.manage` (therapists): see server/routers/users.ts.
import { z } from 'zod';
import { labelListInput, text } from './common.ts';

export const THERAPIST_PROFILE_FIELDS = [
  'specializations',
  'languages',
  'feePaise',
  'bio',
  'acceptingPatients',
] as const;

export const updateProfileInput = z
  .strictObject({
    name: text().trim().min(1).max(100).optional(),
    /** null clears it. Digits, spaces, ( ) - and a leading +. */
    phone: z
      .string()
      .trim()
      .regex(/^\+?[0-9][0-9 ()-]{5,19}$/, 'must be a phone number')
      .nullable()
      .optional(),
    /** A BCP 47 language tag such as `en` or `hi-IN`; null clears it. */
    language: z
      .string()
      .regex(/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8}){0,3}$/, 'must be a language tag such as en or hi-IN')
      .nullable()
      .optional(),
    specializations: labelListInput.optional(),
    languages: labelListInput.optional(),
    /** Fee per session in paise (₹1 = 100 paise), at most ₹1,00,000. */
    feePaise: z.number().int().min(0).max(10_000_000).optional(),
    bio: text().trim().max(2000).nullable().optional(),
    acceptingPatients: z.boolean().optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'nothing to update');
export type UpdateProfileInput = z.infer<typeof updateProfileInput>;

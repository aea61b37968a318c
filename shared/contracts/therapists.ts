// therapists.list (server/routers/therapists.ts): the directory.
import { z } from 'zod';
import type { Contracts } from '../contract.ts';
import { therapistListInput } from '../inputs/therapy.ts';
import { page } from './common.ts';

export const therapistPageOutput = page(
  z.object({
    id: z.string(),
    name: z.string(),
    bio: z.string().nullable(),
    specializations: z.array(z.string()),
    languages: z.array(z.string()),
    feePaise: z.number(),
    acceptingPatients: z.boolean(),
  }),
);

export const therapistsContract = {
  list: {
    meta: {
      auth: 'user',
      // The public directory: no personal data of the caller.
      apiKey: 'any',
      openapi: {
        summary: 'The directory of active therapists',
      },
    },
    input: therapistListInput,
    output: therapistPageOutput,
  },
} satisfies Contracts;

// privacy.* (server/routers/privacy.ts): the privacy notice and its acceptance, the access
// log, and account erasure (DPDPA 2023). All are callable before consent.
import { z } from 'zod';
import { ACCESS_ACTIONS, type AccessAction, type AccessKind } from '../audit.ts';
import type { Contracts, Meta } from '../contract.ts';
import { acceptNoticeInput, accessLogInput, deleteAccountInput } from '../inputs/privacy.ts';
import { date, okOutput, page } from './common.ts';

export const noticeOutput = z.object({ version: z.string() });
export const acceptNoticeOutput = z.object({
  version: z.string(),
  acceptedAt: date,
  accessToken: z.string(),
  expiresIn: z.number(),
});

const beforeConsent = (summary: string): Meta => ({
  auth: 'user',
  beforeConsent: true,
  openapi: { summary },
});
/** Also open to a session still without the second factor its role needs (the console asks for the notice first). */
const beforeFactor = (summary: string): Meta => ({ ...beforeConsent(summary), beforeFactor: true });

export const privacyContract = {
  notice: {
    meta: { auth: 'public', openapi: { summary: 'The privacy notice version to accept' } },
    output: noticeOutput,
  },
  status: {
    meta: beforeFactor('The notice accepted and any scheduled erasure'),
    output: z.object({
      currentNotice: z.string(),
      acceptedNotice: z.string().nullable(),
      acceptedAt: date.nullable(),
      deletionRequestedAt: date.nullable(),
      deletionDueAt: date.nullable(),
    }),
  },
  acceptNotice: {
    meta: beforeFactor('Accept the current privacy notice: a new access token'),
    input: acceptNoticeInput,
    output: acceptNoticeOutput,
  },
  deleteAccount: {
    meta: beforeConsent("Schedule the erasure of the caller's account"),
    input: deleteAccountInput,
    output: z.object({ deletionDueAt: date }),
  },
  accessLog: {
    meta: beforeConsent("Who read the caller's health data, newest first"),
    input: accessLogInput,
    output: page(
      z.object({
        id: z.number(),
        at: date,
        /** What was read. */
        data: z.enum([...new Set(Object.values(ACCESS_ACTIONS))] as [AccessKind, ...AccessKind[]]),
        /** The procedure that read it. */
        via: z.enum(Object.keys(ACCESS_ACTIONS) as [AccessAction, ...AccessAction[]]),
        /** Who read it (null: an account since erased). */
        by: z.object({ name: z.string().nullable(), role: z.string().nullable() }),
      }),
    ),
  },
  cancelDeletion: {
    meta: beforeConsent('Cancel a scheduled erasure'),
    output: okOutput,
  },
} satisfies Contracts;

// analytics.* (server/routers/analytics.ts): platform figures for staff.
import { z } from 'zod';
import type { Contracts } from '../contract.ts';
import { analyticsActivityInput } from '../inputs/analytics.ts';
import { date } from './common.ts';

const counts = z.record(z.string(), z.number());

export const analyticsContract = {
  overview: {
    meta: { auth: 'user', permission: 'analytics.read', openapi: { summary: 'Platform totals' } },
    output: z.object({
      usersByRole: counts,
      usersByPlan: counts,
      usersByStatus: counts,
      activeSubscriptions: z.number(),
      assessmentsLast30Days: z.number(),
      crisisAlertsLast30Days: z.number(),
      openCrisisAlerts: z.number(),
      /** Seconds from an alert to its acknowledgement (null: none acknowledged). */
      crisisTimeToAcknowledgeSeconds: z.object({ median: z.number().nullable(), p95: z.number().nullable() }),
      sessionsBooked: z.number(),
      upcomingSessions: z.number(),
      viewsRefreshedAt: date.nullable(),
    }),
  },
  activity: {
    meta: {
      auth: 'user',
      permission: 'analytics.read',
      openapi: { summary: 'Per day: assessments by severity, bookings, crisis alerts' },
    },
    input: analyticsActivityInput,
    output: z.object({
      days: z.array(
        z.object({
          /** YYYY-MM-DD (UTC). */
          day: z.string(),
          assessments: z.object({
            minimal: z.number(),
            mild: z.number(),
            moderate: z.number(),
            'moderately severe': z.number(),
            severe: z.number(),
          }),
          bookings: z.number(),
          crisisAlerts: z.number(),
        }),
      ),
    }),
  },
} satisfies Contracts;

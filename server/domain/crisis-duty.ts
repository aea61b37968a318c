// Who is told of a crisis alert, and when (docs/api.md, crisis.*):
//   - staff holding crisis.manage mark themselves on call (crisis.onCall.set; a schedule row
//     per person, from when until when);
//   - a new alert notifies every on-call staff member at once (notifyNewAlerts, run by the
//     instance that raised it and by every instance's periodic check);
//   - an alert still open CRISIS_ESCALATE_AFTER_MINUTES after it was raised escalates to every
//     admin (level 1), and again after as long once more (level 2) (escalateDueAlerts).
// Each step is one transaction: the alert's state changes (notified_at, escalation_level,
// which the event log turns into an 'escalated' event for the live queue), the audit entry,
// and the channel's messages (enqueued in the same transaction when the channel is the job
// queue). An UPDATE ... WHERE of the alert's own state decides who does it, so with N
// instances checking at once each alert is notified and escalated exactly once.
// The patient is never a recipient (excluded by id, whatever their role).
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, type Executor, queryRows } from '../../db/client.ts';
import { date } from '../../db/row.ts';
import type { OnCallSetInput } from '../../shared/inputs/crisis.ts';
import { auditInsert, recordAudit } from '../audit.ts';
import type { NotificationChannel, StaffRecipient } from '../notify/index.ts';
import { badRequest } from './errors.ts';

/** The longest on-call window one crisis.onCall.set may declare. */
export const MAX_ON_CALL_DAYS = 14;

const onCallRow = z.object({ user_id: z.string(), name: z.string(), starts_at: date, ends_at: date });

/**
 * crisis.onCall.set: the caller on call from startsAt (default now) until endsAt, replacing
 * their previous window; endsAt null takes them off call. Audited. One transaction, 2 statements.
 */
export async function setOnCall(db: Db, actorId: string, input: OnCallSetInput, ip: string) {
  const now = Date.now();
  if (input.endsAt !== null) {
    const starts = input.startsAt ?? new Date(now);
    if (input.endsAt.getTime() <= Math.max(now, starts.getTime()))
      throw badRequest('endsAt must be after startsAt and in the future');
    if (input.endsAt.getTime() - starts.getTime() > MAX_ON_CALL_DAYS * 86_400_000)
      throw badRequest(`An on-call window is at most ${MAX_ON_CALL_DAYS} days`);
  }
  return db.transaction(async (tx) => {
    if (input.endsAt === null) {
      await tx.execute(sql`DELETE FROM crisis_on_call WHERE user_id = ${actorId}`);
      await recordAudit(tx, {
        actorId,
        action: 'crisis.onCall.set',
        targetId: actorId,
        ip,
        details: { onCall: false },
      });
      return { onCall: false as const, startsAt: null, endsAt: null };
    }
    const starts = input.startsAt ?? new Date(now);
    const [row] = await queryRows(
      tx,
      z.object({ starts_at: date, ends_at: date }),
      sql`WITH saved AS (
            INSERT INTO crisis_on_call (user_id, starts_at, ends_at)
            VALUES (${actorId}, ${starts.toISOString()}::timestamptz, ${input.endsAt.toISOString()}::timestamptz)
            ON CONFLICT (user_id) DO UPDATE
              SET starts_at = excluded.starts_at, ends_at = excluded.ends_at, updated_at = now()
            RETURNING starts_at, ends_at
          ), audit AS (
            ${auditInsert({
              actorId,
              action: 'crisis.onCall.set',
              targetId: actorId,
              ip,
              details: { onCall: true, startsAt: starts.toISOString(), endsAt: input.endsAt.toISOString() },
            })}
          )
          SELECT * FROM saved`,
    );
    return { onCall: true as const, startsAt: row!.starts_at, endsAt: row!.ends_at };
  });
}

/** crisis.onCall.list: who is on call now or later (windows not yet over), soonest first. 1 query. */
export async function listOnCall(db: Executor) {
  const rows = await queryRows(
    db,
    onCallRow,
    sql`SELECT oc.user_id, u.name, oc.starts_at, oc.ends_at
        FROM crisis_on_call oc JOIN users u ON u.id = oc.user_id
        WHERE oc.ends_at > now() AND u.status = 'active' AND u.deleted_at IS NULL
        ORDER BY oc.starts_at, oc.user_id
        LIMIT 200`,
  );
  const now = Date.now();
  return rows.map((r) => ({
    userId: r.user_id,
    name: r.name,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    onCallNow: r.starts_at.getTime() <= now,
  }));
}

const dueRow = z.object({
  alert_id: z.string(),
  level: z.number(),
  waited_minutes: z.number(),
  recipient_id: z.string().nullable(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  language: z.string().nullable(),
});

/** Active staff holding crisis.manage (by their role), as SQL to join on. */
const activeUser = sql`u.status = 'active' AND u.deleted_at IS NULL`;
const holdsCrisisManage = sql`EXISTS (
  SELECT 1 FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id
  WHERE rp.role_id = u.role_id AND p.name = 'crisis.manage')`;

export interface DutyOutcome {
  /** Alerts whose on-call notification was made (0 recipients included). */
  notified: number;
  /** Escalations made (an alert going to level 1 or 2). */
  escalated: number;
  /** Messages handed to the channels. */
  messages: number;
}

async function send(
  tx: Executor,
  channels: NotificationChannel[],
  rows: z.infer<typeof dueRow>[],
  kind: 'raised' | 'escalated',
): Promise<number> {
  let n = 0;
  for (const r of rows) {
    if (!r.recipient_id) continue;
    const to: StaffRecipient = { id: r.recipient_id, email: r.email!, name: r.name!, language: r.language };
    for (const c of channels) {
      await c.notify(tx, to, {
        kind,
        alertId: r.alert_id,
        level: r.level,
        waitedMinutes: Math.floor(r.waited_minutes),
      });
      n += 1;
    }
  }
  return n;
}

/** Distinct alert ids of the rows (each alert appears once per recipient, or once with none). */
const alertsOf = (rows: z.infer<typeof dueRow>[]) => new Set(rows.map((r) => r.alert_id)).size;

/**
 * New alerts not yet notified: marked notified and, in the same transaction, every staff
 * member on call now (holding crisis.manage, active, not the patient) gets a notice per
 * channel, and the audit log an entry per alert (crisis.notified, with the recipients' count).
 */
export async function notifyNewAlerts(db: Db, channels: NotificationChannel[]): Promise<DutyOutcome> {
  return db.transaction(async (tx) => {
    const rows = await queryRows(
      tx,
      dueRow,
      sql`WITH due AS (
            UPDATE crisis_alerts SET notified_at = now()
            WHERE status = 'open' AND notified_at IS NULL
            RETURNING id, user_id, created_at
          ), sent AS (
            SELECT due.id AS alert_id, 0 AS level,
                   extract(epoch FROM now() - due.created_at)::float8 / 60 AS waited_minutes,
                   r.id AS recipient_id, r.email, r.name, r.language
            FROM due LEFT JOIN LATERAL (
              SELECT u.id, u.email, u.name, u.language
              FROM crisis_on_call oc JOIN users u ON u.id = oc.user_id
              WHERE now() >= oc.starts_at AND now() < oc.ends_at AND ${activeUser} AND ${holdsCrisisManage}
                AND u.id <> due.user_id
            ) r ON true
          ), audit AS (
            ${auditInsert(
              {
                actorId: null,
                action: 'crisis.notified',
                targetId: sql`g.user_id`,
                details: sql`jsonb_build_object('alertId', g.id, 'recipients', g.n)`,
              },
              sql`(SELECT due.id, due.user_id, count(sent.recipient_id) AS n
                   FROM due LEFT JOIN sent ON sent.alert_id = due.id GROUP BY due.id, due.user_id) g`,
            )}
          )
          SELECT * FROM sent ORDER BY alert_id, recipient_id`,
    );
    const messages = await send(tx, channels, rows, 'raised');
    return { notified: alertsOf(rows), escalated: 0, messages };
  });
}

/**
 * Open alerts due for escalation (raised at least afterMinutes × (level + 1) ago, level < 2):
 * one level up, escalated_at now, and in the same transaction a notice to every active admin
 * (not the patient) per channel, and an audit entry per alert (crisis.escalated: level and
 * recipients' count). The level change is an 'escalated' event on the live queue.
 */
export async function escalateDueAlerts(
  db: Db,
  channels: NotificationChannel[],
  afterMinutes: number,
): Promise<DutyOutcome> {
  return db.transaction(async (tx) => {
    const rows = await queryRows(
      tx,
      dueRow,
      sql`WITH due AS (
            UPDATE crisis_alerts SET escalation_level = escalation_level + 1, escalated_at = now()
            WHERE status = 'open' AND escalation_level < 2
              AND created_at <= now() - make_interval(secs => ${afterMinutes * 60}::float8 * (escalation_level + 1))
            RETURNING id, user_id, created_at, escalation_level
          ), sent AS (
            SELECT due.id AS alert_id, due.escalation_level::int AS level,
                   extract(epoch FROM now() - due.created_at)::float8 / 60 AS waited_minutes,
                   r.id AS recipient_id, r.email, r.name, r.language
            FROM due LEFT JOIN LATERAL (
              SELECT u.id, u.email, u.name, u.language
              FROM users u JOIN roles ro ON ro.id = u.role_id
              WHERE ro.name IN ('admin', 'superadmin') AND ${activeUser} AND u.id <> due.user_id
            ) r ON true
          ), audit AS (
            ${auditInsert(
              {
                actorId: null,
                action: 'crisis.escalated',
                targetId: sql`g.user_id`,
                details: sql`jsonb_build_object('alertId', g.id, 'level', g.escalation_level, 'recipients', g.n)`,
              },
              sql`(SELECT due.id, due.user_id, due.escalation_level, count(sent.recipient_id) AS n
                   FROM due LEFT JOIN sent ON sent.alert_id = due.id
                   GROUP BY due.id, due.user_id, due.escalation_level) g`,
            )}
          )
          SELECT * FROM sent ORDER BY alert_id, recipient_id`,
    );
    const messages = await send(tx, channels, rows, 'escalated');
    return { notified: 0, escalated: alertsOf(rows), messages };
  });
}

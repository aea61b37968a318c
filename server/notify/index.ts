// How staff are told of a crisis alert: channels behind one interface (email first; SMS or
// push are another implementation of NotificationChannel). A channel is handed the
// transaction that records the notification, so a channel backed by the durable job queue
// enqueues its message there: committed ⇒ sent (with retries), rolled back ⇒ never.
//
// What a notice carries: which alert, how long it has waited, what happened (raised,
// escalated and to which level) and where to act (the console). Never the patient's name,
// contact details or answers (email and SMS are not a place for health data), and a notice
// never goes to the patient: recipients are staff, chosen by server/domain/crisis-duty.ts.
import type { Executor } from '../../db/client.ts';

export interface StaffRecipient {
  id: string;
  email: string;
  name: string;
  /** The recipient's language (users.language), for the message's locale. */
  language: string | null;
}

export interface CrisisNotice {
  /** raised: a new alert (to the on-call staff); escalated: unacknowledged too long (to the admins). */
  kind: 'raised' | 'escalated';
  alertId: string;
  /** 0 for raised; 1 or 2 for an escalation. */
  level: number;
  /** Whole minutes the alert has waited. */
  waitedMinutes: number;
}

export interface NotificationChannel {
  readonly name: string;
  /** Sends (or enqueues in tx, to go once it commits) one notice to one staff member. */
  notify(tx: Executor, to: StaffRecipient, notice: CrisisNotice): Promise<void>;
}

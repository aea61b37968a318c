// The email channel of crisis notices: one `email` job per notice, enqueued in the
// transaction that records the notification (server/email/outbox.ts), so a committed
// notification is sent (with the queue's retries) and a rolled-back one never is.
import type { Executor } from '../../db/client.ts';
import { addressedTo, queueEmail } from '../email/outbox.ts';
import type { AppDeps } from '../services.ts';
import type { CrisisNotice, NotificationChannel, StaffRecipient } from './index.ts';

/** The alert as staff name it in an email: the first 8 characters of its id (the console shows them). */
export const alertRef = (alertId: string) => alertId.slice(0, 8);

export function emailChannel(deps: Pick<AppDeps, 'queue' | 'notes'>): NotificationChannel {
  return {
    name: 'email',
    async notify(tx: Executor, to: StaffRecipient, notice: CrisisNotice) {
      await queueEmail(deps, tx, {
        template: notice.kind === 'raised' ? 'crisisAlertRaised' : 'crisisAlertEscalated',
        ...addressedTo(to),
        vars: {
          name: to.name,
          alertRef: alertRef(notice.alertId),
          waited: String(notice.waitedMinutes),
          level: String(notice.level),
        },
      });
    },
  };
}

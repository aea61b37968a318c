// The new-device sign-in notice as an email job (server/auth/sign-in-notice.ts): queued on
// the primary after the sign-in committed; the worker sends it (server/email/worker.ts).
import type { Executor } from '../../db/client.ts';
import type { SignInNotifier } from '../auth/sign-in-notice.ts';
import type { AppDeps } from '../services.ts';
import { addressedTo, queueEmail } from './outbox.ts';
import { emailTime } from './templates.ts';

export function emailSignInNotifier(deps: Pick<AppDeps, 'queue' | 'notes'>, db: Executor): SignInNotifier {
  return {
    async newDevice(event) {
      await queueEmail(deps, db, {
        template: 'newDeviceSignIn',
        ...addressedTo(event),
        vars: {
          name: event.name,
          device: (event.userAgent ?? 'an unknown browser').slice(0, 120),
          ip: event.ip,
          at: emailTime(event.at),
        },
      });
    },
  };
}

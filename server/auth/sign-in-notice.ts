// Telling a staff member about a sign-in from a device their account has not used before
// (docs/decisions/staff-mfa.md). The email goes through the job queue once it exists (issue
// 26); until then the notice is a log line (user id, never the address, IP or token), so
// the sign-in code calls one interface either way.
import type { Logger } from 'pino';

export interface NewDeviceSignIn {
  userId: string;
  email: string;
  ip: string;
  userAgent: string | undefined;
  /** How the session was authenticated (amr). */
  amr: string[];
  at: Date;
}

export interface SignInNotifier {
  /** Queues the notice; must not throw for a delivery problem (the sign-in has happened). */
  newDevice(event: NewDeviceSignIn): Promise<void>;
}

/** The notifier until the email queue exists: one info line per new device. */
export function logSignInNotifier(log: Logger): SignInNotifier {
  return {
    async newDevice(event) {
      log.info(
        { userId: event.userId, amr: event.amr },
        'sign-in from a new device (email notice pending the job queue)',
      );
    },
  };
}

// Telling a staff member about a sign-in from a device their account has not used before
// (docs/decisions/staff-mfa.md): the sign-in code calls this interface; the email version
// (server/email/sign-in-notice.ts) queues the newDeviceSignIn email.

export interface NewDeviceSignIn {
  userId: string;
  email: string;
  name: string;
  /** The account's language (users.language): the notice is written in it. */
  language: string | null;
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

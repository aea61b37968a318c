// Emails are jobs: `queueEmail(deps, tx, message)` enqueues one in the caller's transaction
// (server/jobs/queue.ts), so an email exists if and only if the write that causes it
// commits; a worker sends it (server/email/worker.ts). A link's token travels sealed with
// the server's key (AES-256-GCM, NOTES_ENCRYPTION_KEY): the queue's table never holds it
// in clear, and only the token's hash is stored with the account.
import type { Executor } from '../../db/client.ts';
import type { SealedNote } from '../crypto/notes.ts';
import type { EnqueueOptions } from '../jobs/queue.ts';
import type { AppDeps } from '../services.ts';
import { type Locale, localeOf, type TemplateName } from './templates.ts';

/** Where a link of an email points: APP_URL + path, the token in the fragment (never sent to a server). */
export const LINK_PATHS = {
  resetPassword: '/reset-password',
  verifyEmail: '/verify-email',
} as const;
export type LinkPath = (typeof LINK_PATHS)[keyof typeof LINK_PATHS];

/** The payload of an `email` job. */
export interface EmailJob {
  template: TemplateName;
  to: string;
  locale: Locale;
  vars: Record<string, string>;
  link?: { path: LinkPath; token: SealedNote };
}

export interface EmailMessage {
  template: TemplateName;
  to: string;
  locale: Locale;
  vars?: Record<string, string>;
  /** A link carrying a secret token (sealed before it is stored). */
  link?: { path: LinkPath; token: string };
}

/** Who an email goes to, as an account row has it: its address, and the language of its locale. */
export interface Recipient {
  email: string;
  language?: string | null | undefined;
}

/** The `to` and `locale` of an email to `r`. */
export const addressedTo = (r: Recipient): Pick<EmailMessage, 'to' | 'locale'> => ({
  to: r.email,
  locale: localeOf(r.language),
});

/** The context a link token is sealed with: opened only for the same recipient. */
export const linkContext = (to: string) => `email-link:${to.toLowerCase()}`;

/** Enqueues an email in `tx` (1 statement). Returns the job id (its Message-ID's local part). */
export function queueEmail(
  deps: Pick<AppDeps, 'queue' | 'notes'>,
  tx: Executor,
  message: EmailMessage,
  opts: EnqueueOptions = {},
): Promise<string> {
  const job: EmailJob = {
    template: message.template,
    to: message.to,
    locale: message.locale,
    vars: message.vars ?? {},
    ...(message.link
      ? {
          link: {
            path: message.link.path,
            token: deps.notes.seal(message.link.token, linkContext(message.to)),
          },
        }
      : {}),
  };
  return deps.queue.enqueue(tx, 'email', job, opts);
}

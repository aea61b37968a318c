// The SMTP transport: nodemailer with a connection pool, TLS (implicit or STARTTLS,
// required by default) checked against the system's CAs or SMTP_TLS_CA_FILE, and
// authentication when SMTP_USER is set. Every message's Message-ID comes from its job id,
// so a retried send is the same message to the receiving side.
import { readFileSync } from 'node:fs';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from '../config.ts';

export type MailerConfig = Pick<
  Config,
  | 'SMTP_HOST'
  | 'SMTP_PORT'
  | 'SMTP_SECURE'
  | 'SMTP_REQUIRE_TLS'
  | 'SMTP_USER'
  | 'SMTP_PASSWORD'
  | 'SMTP_TLS_CA_FILE'
  | 'SMTP_POOL_MAX'
  | 'SMTP_TIMEOUT_MS'
  | 'EMAIL_FROM'
>;

export interface Mailer {
  send(message: {
    jobId: string;
    to: string;
    subject: string;
    text: string;
    html: string;
  }): Promise<{ messageId: string }>;
  close(): void;
}

/** The domain of EMAIL_FROM's address: the right-hand side of every Message-ID. */
export function senderDomain(from: string): string {
  const address = /<([^>]+)>/.exec(from)?.[1] ?? from;
  return address.split('@').pop()!.trim();
}

/** `<job-id@domain>`: the same for every attempt of one job. */
export function messageIdOf(jobId: string, from: string): string {
  return `<${jobId}@${senderDomain(from)}>`;
}

/** undefined without SMTP_HOST (emails then wait in the queue). */
export function createMailer(config: MailerConfig): Mailer | undefined {
  if (!config.SMTP_HOST) return undefined;
  const transport: Transporter = nodemailer.createTransport({
    pool: true,
    host: config.SMTP_HOST,
    port: config.SMTP_PORT,
    secure: config.SMTP_SECURE,
    requireTLS: config.SMTP_REQUIRE_TLS,
    maxConnections: config.SMTP_POOL_MAX,
    connectionTimeout: config.SMTP_TIMEOUT_MS,
    greetingTimeout: config.SMTP_TIMEOUT_MS,
    socketTimeout: config.SMTP_TIMEOUT_MS,
    ...(config.SMTP_USER ? { auth: { user: config.SMTP_USER, pass: config.SMTP_PASSWORD ?? '' } } : {}),
    tls: {
      minVersion: 'TLSv1.2',
      ...(config.SMTP_TLS_CA_FILE ? { ca: readFileSync(config.SMTP_TLS_CA_FILE) } : {}),
    },
  });
  return {
    async send(m) {
      const messageId = messageIdOf(m.jobId, config.EMAIL_FROM);
      await transport.sendMail({
        from: config.EMAIL_FROM,
        to: m.to,
        subject: m.subject,
        text: m.text,
        html: m.html,
        messageId,
      });
      return { messageId };
    },
    close() {
      transport.close();
    },
  };
}

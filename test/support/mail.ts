// The email tests' mail server: test/support/smtp-sink.ts in a child process on a free
// port, with a certificate of the test's own (openssl) that the API trusts through
// SMTP_TLS_CA_FILE, and AUTH. messages() reads what it accepted (parsed by mailparser);
// stop()/start() take it down and bring it back on the same port (a mail server outage).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { freePort, sleep } from '../faults/support.ts';
import { canConnect } from './net.ts';

export interface ReceivedMail {
  messageId: string | null;
  to: string[];
  subject: string;
  text: string;
  html: string;
  raw: string;
}

export interface MailServer {
  port: number;
  /** The API's SMTP_* settings for this server. */
  env: Record<string, string>;
  messages(): Promise<ReceivedMail[]>;
  /** Waits until `pred` holds for the messages received (polls the file). */
  waitFor(pred: (m: ReceivedMail[]) => boolean, timeoutMs?: number): Promise<ReceivedMail[]>;
  start(): Promise<void>;
  /** SIGKILL: the server is gone at once (connections reset). */
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

const SINK = new URL('./smtp-sink.ts', import.meta.url).pathname;

export async function startMailServer(opts: { slowMs?: number } = {}): Promise<MailServer> {
  const dir = mkdtempSync(join(tmpdir(), 'manas360-smtp-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  const out = join(dir, 'messages.jsonl');
  const port = await freePort();
  const user = 'manas360';
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  let proc: ChildProcess | undefined;

  const start = async () => {
    proc = spawn(process.execPath, [SINK, String(port), key, cert, user, password, out], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, SLOW_MS: String(opts.slowMs ?? 4000) },
    });
    for (let i = 0; i < 200 && !(await canConnect(port)); i++) await sleep(50);
    if (!(await canConnect(port))) throw new Error('smtp-sink did not start');
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  const messages = async () => {
    if (!existsSync(out)) return [];
    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    return Promise.all(
      lines.map(async (line) => {
        const r = JSON.parse(line) as { messageId: string | null; to: string[]; raw: string };
        const parsed = await simpleParser(r.raw);
        return {
          messageId: r.messageId,
          to: r.to,
          subject: parsed.subject ?? '',
          text: parsed.text ?? '',
          html: typeof parsed.html === 'string' ? parsed.html : '',
          raw: r.raw,
        };
      }),
    );
  };
  await start();
  return {
    port,
    env: {
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(port),
      SMTP_SECURE: 'false',
      SMTP_REQUIRE_TLS: 'true',
      SMTP_USER: user,
      SMTP_PASSWORD: password,
      SMTP_TLS_CA_FILE: cert,
      EMAIL_FROM: 'MANAS360 <no-reply@manas360.test>',
    },
    messages,
    async waitFor(pred, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const m = await messages();
        if (pred(m)) return m;
        if (Date.now() > until) throw new Error(`mail not received in time (${m.length} messages)`);
        await sleep(100);
      }
    },
    start,
    stop,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The token in a link of an email's text (…#token=XYZ). */
export function linkToken(mail: ReceivedMail): string {
  const m = /#token=([A-Za-z0-9_%-]+)/.exec(mail.text);
  if (!m) throw new Error('no link token in the email');
  return decodeURIComponent(m[1]!);
}

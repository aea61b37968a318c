// The real HTTP server (test/server.ts) sending its email to a real SMTP server process of its
// own (test/support/mail.ts), with the queue's workers running: what the email suites start.
import { startQueueWorkers } from '../../server/jobs/workers.ts';
import { startTestServer, type TestServer } from '../server.ts';
import { type MailServer, startMailServer } from './mail.ts';

export interface MailedServer {
  mail: MailServer;
  server: TestServer;
  /** Workers, server, then mail server. */
  close(): Promise<void>;
}

/** `env`: more settings (QUEUE_POLL_SECONDS is 0.5 unless given). */
export async function startMailedServer(env: Record<string, string> = {}): Promise<MailedServer> {
  const mail = await startMailServer();
  const server = await startTestServer({ env: { ...mail.env, QUEUE_POLL_SECONDS: '0.5', ...env } });
  const stopWorkers = await startQueueWorkers(server.deps);
  return {
    mail,
    server,
    async close() {
      await stopWorkers();
      await server.close();
      await mail.dispose();
    },
  };
}

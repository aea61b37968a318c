// The `email` queue's worker: opens the link token (if any), renders the template and
// sends it over SMTP with the Message-ID of its job. A send that fails (SMTP down, refused)
// throws: pg-boss retries it with backoff, and after QUEUE_MAX_ATTEMPTS it is dead-lettered.
import type { Job } from 'pg-boss';
import type { AppDeps } from '../services.ts';
import type { Mailer } from './mailer.ts';
import { type EmailJob, linkContext } from './outbox.ts';
import { renderEmail } from './templates.ts';

type WorkerDeps = Pick<AppDeps, 'queue' | 'notes' | 'config' | 'metrics'>;

/** Renders and sends one email job. */
export async function deliverEmail(deps: WorkerDeps, mailer: Mailer, job: Job<EmailJob>): Promise<void> {
  const { to, template, locale, link } = job.data;
  const vars = { ...job.data.vars };
  if (link) {
    const token = deps.notes.open(link.token, linkContext(to));
    const url = new URL(link.path, deps.config.APP_URL);
    url.hash = `token=${encodeURIComponent(token)}`;
    vars.link = url.toString();
  }
  const rendered = renderEmail(template, locale, vars);
  await mailer.send({ jobId: job.id, to, ...rendered });
}

/** Makes this process a worker of the `email` queue. */
export async function startEmailWorker(deps: WorkerDeps, mailer: Mailer): Promise<void> {
  await deps.queue.work<EmailJob>(
    'email',
    deps.config.EMAIL_CONCURRENCY,
    (job) => deliverEmail(deps, mailer, job),
    (outcome, seconds) => deps.metrics.queueJob('email', outcome, seconds),
  );
}

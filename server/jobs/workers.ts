// The queue's workers, as one unit: in the API process (QUEUE_WORKERS=true, the default)
// or in `npm run worker` (server/worker.ts). Returns the function that stops them.
import { processAccountJob } from '../domain/account-email.ts';
import type { AccountJob } from '../domain/email-tokens.ts';
import { createMailer } from '../email/mailer.ts';
import { startEmailWorker } from '../email/worker.ts';
import type { AppDeps } from '../services.ts';

export async function startQueueWorkers(
  deps: Pick<AppDeps, 'queue' | 'notes' | 'config' | 'metrics' | 'log' | 'db'>,
): Promise<() => Promise<void>> {
  await deps.queue.work<AccountJob>(
    'account',
    2,
    (job) => processAccountJob(deps, job),
    (outcome, seconds) => deps.metrics.queueJob('account', outcome, seconds),
  );
  const mailer = createMailer(deps.config);
  if (mailer) await startEmailWorker(deps, mailer);
  else deps.log.warn('no SMTP_HOST: emails wait in the queue until a worker with SMTP_HOST sends them');
  if (deps.config.NODE_ENV === 'production' && !deps.config.APP_URL.startsWith('https:'))
    deps.log.warn('APP_URL is not https: links in emails will point at it');
  return async () => {
    await deps.queue.stopWorkers();
    mailer?.close();
  };
}

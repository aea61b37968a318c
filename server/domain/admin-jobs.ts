// admin.jobs.*: the job queue as the console shows it (depth, oldest job, failures, dead
// letters per queue; the newest jobs of a queue) and the redrive of dead-lettered jobs.
// Job payloads are never shown: they hold addresses and sealed link tokens.
import type { JobsListInput, JobsRedriveInput } from '../../shared/inputs/admin.ts';
import { recordAudit } from '../audit.ts';
import type { JobSummary, QueueFigures } from '../jobs/queue.ts';
import type { AppDeps } from '../services.ts';

export function jobQueues(deps: Pick<AppDeps, 'queue'>): Promise<QueueFigures[]> {
  return deps.queue.figures();
}

export function listJobs(deps: Pick<AppDeps, 'queue'>, input: JobsListInput): Promise<JobSummary[]> {
  return deps.queue.list(input.queue, { ...(input.state ? { state: input.state } : {}), limit: input.limit });
}

/** Moves dead-lettered jobs back to their queue (new attempts), audited. */
export async function redriveJobs(
  deps: Pick<AppDeps, 'queue' | 'db'>,
  input: JobsRedriveInput,
  actor: { id: string; ip: string },
): Promise<{ moved: number }> {
  const moved = await deps.queue.redrive(input.queue, input.ids);
  await recordAudit(deps.db, {
    actorId: actor.id,
    action: 'admin.jobs.redrive',
    ip: actor.ip,
    details: { queue: input.queue, moved },
  });
  return { moved };
}

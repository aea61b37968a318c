// The job queue (emails): per queue what waits, runs and failed, the age of the oldest
// waiting job and the dead letters; the newest jobs of a queue; send dead letters again.
import { Badge, Button, Group, SegmentedControl, Text } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { useState } from 'react';
import { type RouterOutputs, useTRPC } from '../api.ts';
import { DataTable } from '../components/DataTable.tsx';
import { ErrorAlert, formatTime, PageTitle } from '../components/ui.tsx';

type QueueRow = RouterOutputs['admin']['jobs']['queues'][number];
type JobRow = RouterOutputs['admin']['jobs']['list'][number];

const q = createColumnHelper<QueueRow>();
const queueColumns = [
  q.accessor('name', { header: 'Queue' }),
  q.accessor('queued', { header: 'Waiting' }),
  q.accessor('active', { header: 'Running' }),
  q.accessor('oldestSeconds', { header: 'Oldest waiting', cell: (c) => `${Math.round(c.getValue())} s` }),
  q.accessor('failed', { header: 'Failed' }),
  q.accessor('deadLetters', {
    header: 'Dead letters',
    cell: (c) =>
      c.getValue() > 0 ? (
        <Badge variant="light" color="red">
          {c.getValue()}
        </Badge>
      ) : (
        '0'
      ),
  }),
];

const j = createColumnHelper<JobRow>();
const jobColumns = [
  j.accessor('id', { header: 'Job' }),
  j.accessor('state', { header: 'State' }),
  j.accessor('retryCount', {
    header: 'Retries',
    cell: (c) => `${c.getValue()} / ${c.row.original.retryLimit}`,
  }),
  j.accessor('createdOn', { header: 'Created (UTC)', cell: (c) => formatTime(c.getValue()) }),
  j.accessor('completedOn', { header: 'Ended (UTC)', cell: (c) => formatTime(c.getValue()) }),
  j.accessor('error', { header: 'Last error', cell: (c) => c.getValue() ?? '—' }),
];

export function JobsPage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [queue, setQueue] = useState<'email' | 'email-dead'>('email');
  const queues = useQuery(trpc.admin.jobs.queues.queryOptions(undefined, { refetchInterval: 10_000 }));
  const jobs = useQuery(trpc.admin.jobs.list.queryOptions({ queue, limit: 50 }));
  const redrive = useMutation(
    trpc.admin.jobs.redrive.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.admin.jobs.pathKey() }),
    }),
  );
  return (
    <>
      <PageTitle>Jobs</PageTitle>
      <ErrorAlert error={queues.error ?? jobs.error ?? redrive.error} />
      <DataTable caption="Queues" data={queues.data ?? []} columns={queueColumns} getRowId={(r) => r.name} />
      <Group mt="lg" mb="sm">
        <SegmentedControl
          aria-label="Queue shown"
          value={queue}
          onChange={(v) => setQueue(v as typeof queue)}
          data={[
            { value: 'email', label: 'Emails' },
            { value: 'email-dead', label: 'Dead letters' },
          ]}
        />
        {queue === 'email-dead' && (
          <Button
            loading={redrive.isPending}
            disabled={(jobs.data ?? []).length === 0}
            onClick={() => redrive.mutate({ queue: 'email' })}
          >
            Send all again
          </Button>
        )}
      </Group>
      <DataTable caption="Newest jobs" data={jobs.data ?? []} columns={jobColumns} getRowId={(r) => r.id} />
      {redrive.data && (
        <Text mt="sm" role="status">
          {redrive.data.moved} job(s) queued again.
        </Text>
      )}
    </>
  );
}

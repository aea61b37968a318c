// The crisis queue: open alerts first, oldest first, polled every 5 s so new alerts appear
// without a reload; acknowledge one; the recently acknowledged below.
import { Button } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { type RouterOutputs, useTRPC } from '../api.ts';
import { DataTable } from '../components/DataTable.tsx';
import { ErrorAlert, formatTime, PageTitle } from '../components/ui.tsx';

type Alert = RouterOutputs['crisis']['list']['items'][number];
export const CRISIS_POLL_MS = 5000;

const col = createColumnHelper<Alert>();
const baseColumns = [
  col.accessor('createdAt', { header: 'Raised (UTC)', cell: (c) => formatTime(c.getValue()) }),
  col.accessor((a) => a.patient.name, { id: 'patient', header: 'Patient' }),
  col.accessor((a) => a.patient.phone ?? a.patient.email, { id: 'contact', header: 'Contact' }),
  col.accessor((a) => `${a.assessment.instrument} ${a.assessment.score} (${a.assessment.severity})`, {
    id: 'screening',
    header: 'Screening',
  }),
];

export function CrisisPage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const open = useQuery({
    ...trpc.crisis.list.queryOptions({ status: 'open', order: 'oldest', limit: 50 }),
    refetchInterval: CRISIS_POLL_MS,
  });
  const done = useQuery({
    ...trpc.crisis.list.queryOptions({ status: 'acknowledged', limit: 10 }),
    refetchInterval: CRISIS_POLL_MS,
  });
  const acknowledge = useMutation(
    trpc.crisis.acknowledge.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.crisis.list.pathKey() }),
    }),
  );
  const openColumns = [
    ...baseColumns,
    col.display({
      id: 'act',
      header: 'Action',
      cell: (c) => (
        <Button
          size="xs"
          loading={acknowledge.isPending && acknowledge.variables?.alertId === c.row.original.id}
          onClick={() => acknowledge.mutate({ alertId: c.row.original.id })}
          aria-label={`Acknowledge the alert for ${c.row.original.patient.name}`}
        >
          Acknowledge
        </Button>
      ),
    }),
  ];
  const doneColumns = [
    ...baseColumns,
    col.accessor('acknowledgedAt', { header: 'Acknowledged (UTC)', cell: (c) => formatTime(c.getValue()) }),
  ];
  return (
    <>
      <PageTitle>Crisis queue</PageTitle>
      <ErrorAlert error={open.error ?? acknowledge.error} />
      <DataTable
        caption={`Open alerts, oldest first (${open.data?.items.length ?? 0}${open.data?.nextCursor ? '+' : ''})`}
        data={open.data?.items ?? []}
        columns={openColumns}
        getRowId={(a) => a.id}
        empty="No open alerts"
      />
      <DataTable
        caption="Recently acknowledged"
        data={done.data?.items ?? []}
        columns={doneColumns}
        getRowId={(a) => a.id}
        empty="None yet"
      />
    </>
  );
}

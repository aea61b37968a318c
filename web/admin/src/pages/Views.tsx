// The materialized views: last refresh, its duration, rows, whether a base table changed
// since; refresh now.
import { Badge, Button, Text } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { type RouterOutputs, useTRPC } from '../api.ts';
import { DataTable } from '../components/DataTable.tsx';
import { ErrorAlert, formatTime, PageTitle } from '../components/ui.tsx';

type ViewRow = RouterOutputs['admin']['views']['status'][number];
const col = createColumnHelper<ViewRow>();
const columns = [
  col.accessor('name', { header: 'View' }),
  col.accessor('lastRefreshedAt', { header: 'Last refresh (UTC)', cell: (c) => formatTime(c.getValue()) }),
  col.accessor('ms', {
    header: 'Took',
    cell: (c) => (c.getValue() === null ? '—' : `${Math.round(c.getValue()!)} ms`),
  }),
  col.accessor('rows', { header: 'Rows', cell: (c) => c.getValue()?.toLocaleString('en-US') ?? '—' }),
  col.accessor('stale', {
    header: 'State',
    cell: (c) =>
      c.getValue() ? (
        <Badge variant="light" color="yellow">
          changes pending
        </Badge>
      ) : (
        <Badge variant="light" color="green">
          current
        </Badge>
      ),
  }),
];

export function ViewsPage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const status = useQuery(trpc.admin.views.status.queryOptions());
  const refresh = useMutation(
    trpc.admin.views.refresh.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.admin.views.status.queryKey() }),
    }),
  );
  return (
    <>
      <PageTitle>Views</PageTitle>
      <ErrorAlert error={status.error ?? refresh.error} />
      <DataTable
        caption="Materialized views"
        data={status.data ?? []}
        columns={columns}
        getRowId={(v) => v.name}
      />
      <Button mt="md" loading={refresh.isPending} onClick={() => refresh.mutate()}>
        Refresh now
      </Button>
      {refresh.data && (
        <Text mt="sm" role="status">
          Refreshed: {refresh.data.map((v) => `${v.name} ${Math.round(v.ms)} ms, ${v.rows} rows`).join('; ')}
        </Text>
      )}
    </>
  );
}

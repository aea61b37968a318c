// The audit log: filter by action (the list the API exports), actor, target and date range.
import { Button, Group, Select, TextInput } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { useEffect, useState } from 'react';
import { AUDIT_ACTIONS, type AuditAction } from '../../../../shared/audit.ts';
import { type RouterOutputs, useTRPC } from '../api.ts';
import { DataTable } from '../components/DataTable.tsx';
import { ErrorAlert, formatTime, Pager, PageTitle, useKeysetPages } from '../components/ui.tsx';
import { Link, useLocation } from '../router.tsx';

type AuditRow = RouterOutputs['admin']['audit']['list']['items'][number];

const col = createColumnHelper<AuditRow>();
const columns = [
  col.accessor('at', { header: 'Time (UTC)', cell: (c) => formatTime(c.getValue()) }),
  col.accessor('action', { header: 'Action' }),
  col.accessor('actorEmail', {
    header: 'Actor',
    cell: (c) => {
      const id = c.row.original.actorId;
      return id ? <Link to={`/users/${id}`}>{c.getValue() ?? id}</Link> : 'system';
    },
  }),
  col.accessor('targetId', {
    header: 'Target',
    cell: (c) => {
      const id = c.getValue();
      return id ? <Link to={`/users/${id}`}>{c.row.original.targetEmail ?? id}</Link> : '—';
    },
  }),
  col.accessor('details', {
    header: 'Details',
    cell: (c) => <span className="details">{c.getValue() ? JSON.stringify(c.getValue()) : ''}</span>,
  }),
];

export function AuditTable({ caption, items }: { caption: string; items: AuditRow[] }) {
  return <DataTable caption={caption} data={items} columns={columns} getRowId={(r) => String(r.id)} />;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const dayStart = (d: string) => (d ? new Date(`${d}T00:00:00Z`) : undefined);
const dayEnd = (d: string) => (d ? new Date(`${d}T23:59:59.999Z`) : undefined);

export function AuditPage() {
  const trpc = useTRPC();
  const { search } = useLocation();
  const [action, setAction] = useState<string | null>(null);
  const [actor, setActor] = useState('');
  const [target, setTarget] = useState(search.get('target') ?? '');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [applied, setApplied] = useState({ action, actor, target, from, to });
  const pages = useKeysetPages();
  // biome-ignore lint/correctness/useExhaustiveDependencies: new filters start at page 1
  useEffect(() => pages.reset(), [applied]);
  const bad = (v: string) => v !== '' && !UUID.test(v.trim());

  const list = useQuery({
    ...trpc.admin.audit.list.queryOptions({
      action: (applied.action as AuditAction | null) ?? undefined,
      actorId: applied.actor.trim() || undefined,
      targetId: applied.target.trim() || undefined,
      from: dayStart(applied.from),
      to: dayEnd(applied.to),
      cursor: pages.cursor,
      limit: 25,
    }),
    placeholderData: (previous) => previous,
  });

  return (
    <>
      <PageTitle>Audit log</PageTitle>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ action, actor, target, from, to });
        }}
      >
        <Group mb="md" align="flex-end">
          <Select
            label="Action"
            placeholder="Any"
            data={[...AUDIT_ACTIONS]}
            value={action}
            onChange={setAction}
            searchable
            clearable
            w={240}
          />
          <TextInput
            label="Actor id"
            value={actor}
            onChange={(e) => setActor(e.currentTarget.value)}
            error={bad(actor) ? 'A user id (UUID)' : undefined}
            w={300}
          />
          <TextInput
            label="Target id"
            value={target}
            onChange={(e) => setTarget(e.currentTarget.value)}
            error={bad(target) ? 'A user id (UUID)' : undefined}
            w={300}
          />
          <TextInput
            label="From (UTC)"
            type="date"
            value={from}
            onChange={(e) => setFrom(e.currentTarget.value)}
          />
          <TextInput label="To (UTC)" type="date" value={to} onChange={(e) => setTo(e.currentTarget.value)} />
          <Button type="submit" disabled={bad(actor) || bad(target)}>
            Apply filters
          </Button>
        </Group>
      </form>
      <ErrorAlert error={list.error} />
      <AuditTable caption="Audit entries, newest first" items={list.data?.items ?? []} />
      <Pager pages={pages} nextCursor={list.data?.nextCursor} label="Audit log" />
    </>
  );
}

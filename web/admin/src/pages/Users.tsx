// Users: search by any part of email or name, filter by role, plan and status, sort, keyset pages.
import { Badge, Group, Select, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { createColumnHelper, type SortingState } from '@tanstack/react-table';
import { useEffect, useState } from 'react';
import { PLAN_CODES, ROLES, USER_STATUSES, type UserStatus } from '../../../../shared/catalog.ts';
import { type RouterOutputs, useTRPC } from '../api.ts';
import { DataTable } from '../components/DataTable.tsx';
import { ErrorAlert, formatTime, Pager, PageTitle, useKeysetPages } from '../components/ui.tsx';
import { Link } from '../router.tsx';

type UserRow = RouterOutputs['admin']['users']['list']['items'][number];
type SortKey = 'createdAt' | 'email' | 'name';

/** pending: registered, the address not yet confirmed (it cannot sign in). */
const STATUS_COLORS: Record<UserStatus, string> = { active: 'green', pending: 'yellow', suspended: 'red' };

const col = createColumnHelper<UserRow>();
const columns = [
  col.accessor('email', {
    header: 'Email',
    cell: (c) => <Link to={`/users/${c.row.original.id}`}>{c.getValue()}</Link>,
  }),
  col.accessor('name', { header: 'Name' }),
  col.accessor('role', { header: 'Role', enableSorting: false }),
  col.accessor('plan', { header: 'Plan', enableSorting: false }),
  col.accessor('status', {
    header: 'Status',
    enableSorting: false,
    cell: (c) => (
      <Badge variant="light" color={STATUS_COLORS[c.getValue()]}>
        {c.getValue()}
      </Badge>
    ),
  }),
  col.accessor('createdAt', { header: 'Created', cell: (c) => formatTime(c.getValue()) }),
];

const options = (values: readonly string[]) => values.map((v) => ({ value: v, label: v }));

export function UsersPage() {
  const trpc = useTRPC();
  const [search, setSearch] = useState('');
  const [debouncedSearch] = useDebouncedValue(search.trim(), 250);
  const [role, setRole] = useState<string | null>(null);
  const [plan, setPlan] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [sorting, setSorting] = useState<SortingState>([{ id: 'createdAt', desc: true }]);
  const pages = useKeysetPages();
  const sort = sorting[0] ?? { id: 'createdAt', desc: true };
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new filter or sort starts at page 1
  useEffect(() => pages.reset(), [debouncedSearch, role, plan, status, sort.id, sort.desc]);

  const list = useQuery({
    ...trpc.admin.users.list.queryOptions({
      search: debouncedSearch || undefined,
      role: role ?? undefined,
      plan: plan ?? undefined,
      status: (status as UserStatus | null) ?? undefined,
      sort: sort.id as SortKey,
      order: sort.desc ? 'desc' : 'asc',
      cursor: pages.cursor,
      limit: 20,
    }),
    placeholderData: (previous) => previous,
  });

  return (
    <>
      <PageTitle>Users</PageTitle>
      <Group mb="md" align="flex-end">
        <TextInput
          label="Search"
          description="Any part of the email or name"
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          maxLength={100}
          w={280}
        />
        <Select
          label="Role"
          placeholder="Any"
          data={options(Object.keys(ROLES))}
          value={role}
          onChange={setRole}
          clearable
        />
        <Select
          label="Plan"
          placeholder="Any"
          data={options(PLAN_CODES)}
          value={plan}
          onChange={setPlan}
          clearable
        />
        <Select
          label="Status"
          placeholder="Any"
          data={options([...USER_STATUSES])}
          value={status}
          onChange={setStatus}
          clearable
        />
      </Group>
      <ErrorAlert error={list.error} />
      <DataTable
        caption={list.isFetching ? 'Users (loading…)' : 'Users'}
        data={list.data?.items ?? []}
        columns={columns}
        getRowId={(r) => r.id}
        sorting={sorting}
        onSortingChange={setSorting}
        empty="No user matches"
      />
      <Pager pages={pages} nextCursor={list.data?.nextCursor} label="Users" />
    </>
  );
}

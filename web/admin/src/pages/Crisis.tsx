// The crisis queue, live: open alerts first, oldest first, with how long each has waited and
// its escalation; the recently acknowledged below, by whom and when. crisis.onChange (server-
// sent events) tells the page of every new alert, acknowledgement and escalation, and the
// lists reload at once: no polling, no reload. Acknowledging asks first.
import { Badge, Text } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useEffect, useState } from 'react';
import { can } from '../access.ts';
import { errorCode, type Me, type RouterOutputs, refresh, useTRPC } from '../api.ts';
import { DataTable } from '../components/DataTable.tsx';
import { ConfirmAction, ErrorAlert, formatTime, PageTitle } from '../components/ui.tsx';
import { Link } from '../router.tsx';

type Alert = RouterOutputs['crisis']['list']['items'][number];

/** "12 min", "3 h 05 min", "2 d 4 h": how long since `from`. */
export function waited(from: Date, now: number): string {
  const minutes = Math.max(0, Math.floor((now - from.getTime()) / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** The clock the waits are shown against, ticking every 15 s. */
function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(t);
  }, []);
  return now;
}

const col = createColumnHelper<Alert>();

export function CrisisPage({ me }: { me: Me }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const now = useNow();
  const open = useQuery(trpc.crisis.list.queryOptions({ status: 'open', order: 'oldest', limit: 50 }));
  const done = useQuery(trpc.crisis.list.queryOptions({ status: 'acknowledged', limit: 10 }));
  const reload = () => queryClient.invalidateQueries({ queryKey: trpc.crisis.list.pathKey() });
  // Live: every event reloads the lists (the event names the alert, not the patient: the
  // details come from crisis.list, an audited read). Started (again): reload too, for what
  // happened while not subscribed. Its token expired or was revoked: refresh and subscribe again.
  const live = useSubscription(
    trpc.crisis.onChange.subscriptionOptions(
      {},
      {
        onStarted: () => void reload(),
        onData: () => void reload(),
        onError: (err) => {
          if (errorCode(err) === 'UNAUTHORIZED')
            void refresh().then((ok) => {
              if (ok) live.reset();
            });
        },
      },
    ),
  );
  const acknowledge = useMutation(trpc.crisis.acknowledge.mutationOptions({ onSuccess: () => reload() }));

  const patient = col.accessor((a) => a.patient.name, {
    id: 'patient',
    header: 'Patient',
    cell: (c) =>
      can(me, 'users.read') ? (
        <Link to={`/users/${c.row.original.patient.id}`}>{c.getValue()}</Link>
      ) : (
        c.getValue()
      ),
  });
  const contact = col.accessor((a) => a.patient.phone ?? a.patient.email, {
    id: 'contact',
    header: 'Contact',
  });
  const screening = col.accessor(
    (a) => `${a.assessment.instrument} ${a.assessment.score} (${a.assessment.severity})`,
    { id: 'screening', header: 'Screening' },
  );
  const raised = col.accessor('createdAt', { header: 'Raised (UTC)', cell: (c) => formatTime(c.getValue()) });
  const openColumns = [
    raised,
    col.accessor('createdAt', {
      id: 'waiting',
      header: 'Waiting',
      cell: (c) => waited(c.getValue(), now),
    }),
    patient,
    contact,
    screening,
    col.accessor('escalationLevel', {
      header: 'Escalation',
      cell: (c) =>
        c.getValue() > 0 ? (
          <Badge color="red">{`admins told${c.getValue() > 1 ? ' twice' : ''}`}</Badge>
        ) : (
          '—'
        ),
    }),
    col.display({
      id: 'act',
      header: 'Action',
      cell: (c) => (
        <ConfirmAction
          label="Acknowledge"
          title="Acknowledge the alert"
          color="red"
          message={`Acknowledge the alert for ${c.row.original.patient.name}? You are recorded as the clinician taking it on, and escalation stops: contact the patient now.`}
          onConfirm={() => acknowledge.mutateAsync({ alertId: c.row.original.id })}
        />
      ),
    }),
  ];
  const doneColumns = [
    raised,
    patient,
    screening,
    col.accessor('acknowledgedByName', { header: 'Acknowledged by', cell: (c) => c.getValue() ?? '—' }),
    col.accessor('acknowledgedAt', { header: 'Acknowledged (UTC)', cell: (c) => formatTime(c.getValue()) }),
  ];
  return (
    <>
      <PageTitle>Crisis queue</PageTitle>
      <Text size="sm" c="dimmed" role="status">
        {live.status === 'pending'
          ? 'Live: new alerts appear here at once.'
          : live.status === 'connecting' || live.status === 'idle'
            ? 'Connecting to live updates…'
            : 'Live updates stopped; reload the page.'}
      </Text>
      <ErrorAlert error={open.error ?? done.error} />
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

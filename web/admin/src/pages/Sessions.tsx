// The signed-in account's live sessions (auth.sessions): device, address, last use, how it
// was authenticated; this one marked. Ending another (auth.revokeSession, confirmed) stops
// its refresh token and refuses its access token at once; this one ends with "Sign out".
import { Badge, Stack, Text } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { useMemo } from 'react';
import { type RouterOutputs, useTRPC } from '../api.ts';
import { DataTable } from '../components/DataTable.tsx';
import { ConfirmAction, ErrorAlert, formatTime, PageTitle } from '../components/ui.tsx';

type Session = RouterOutputs['auth']['sessions'][number];

/** "Chrome on Linux" from a user agent; the raw string when neither part is recognised. */
export function deviceName(userAgent: string | null): string {
  if (!userAgent) return 'Unknown device';
  // The first of each list that the string names (an Android UA also says Linux, Chrome's
  // also Safari).
  const browser = ['Edg/', 'OPR/', 'Firefox/', 'HeadlessChrome/', 'Chrome/', 'Safari/']
    .find((b) => userAgent.includes(b))
    ?.slice(0, -1);
  const os = ['Windows', 'Android', 'iPhone', 'iPad', 'Mac OS X', 'CrOS', 'Linux'].find((o) =>
    userAgent.includes(o),
  );
  const names: Record<string, string> = {
    Edg: 'Edge',
    OPR: 'Opera',
    HeadlessChrome: 'Chrome (headless)',
    'Mac OS X': 'macOS',
    CrOS: 'ChromeOS',
  };
  if (!browser && !os) return userAgent.slice(0, 60);
  const b = browser ? (names[browser] ?? browser) : 'A browser';
  return os ? `${b} on ${names[os] ?? os}` : b;
}

/** How a session was authenticated, from its amr (RFC 8176). */
export function signedInWith(amr: string[]): string {
  if (amr.includes('hwk') || amr.includes('swk')) return 'Passkey';
  if (amr.includes('otp')) return 'Code (app or recovery)';
  if (amr.includes('pwd')) return 'Password only';
  return amr.join(', ') || '—';
}

const col = createColumnHelper<Session>();

export function SessionsPage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const sessions = useQuery(trpc.auth.sessions.queryOptions());
  const revoke = useMutation(
    trpc.auth.revokeSession.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.auth.sessions.queryKey() }),
    }),
  );
  // Stable columns: react-table renders a cell function as a component, so a new one each
  // render would remount the cells (and close an open confirmation).
  const endSession = revoke.mutateAsync;
  const columns = useMemo(
    () => [
      col.accessor('userAgent', {
        header: 'Device',
        cell: (c) => {
          const s = c.row.original;
          return (
            <Stack gap={2} align="flex-start">
              <Text size="sm" fw={500}>
                {deviceName(s.userAgent)}
              </Text>
              {s.current && (
                <Badge variant="light" color="green">
                  This session
                </Badge>
              )}
              <Text size="xs" c="dimmed">
                {s.ip ?? 'address unknown'}, since {formatTime(s.startedAt)}
              </Text>
              <Text size="xs" c="dimmed">
                Signed in with: {signedInWith(s.amr)}
              </Text>
            </Stack>
          );
        },
      }),
      col.accessor('lastUsedAt', { header: 'Last used (UTC)', cell: (c) => formatTime(c.getValue()) }),
      col.display({
        id: 'end',
        header: 'Action',
        cell: (c) => {
          const s = c.row.original;
          if (s.current) return <Text size="sm">Sign out to end it</Text>;
          const name = deviceName(s.userAgent);
          return (
            <ConfirmAction
              label="End session"
              ariaLabel={`End session: ${name}, ${s.ip ?? 'address unknown'}`}
              title="End this session?"
              color="red"
              message={`${name} (${s.ip ?? 'address unknown'}) will be signed out at once: its sign-in stops working and it has to sign in again.`}
              onConfirm={() => endSession({ sessionId: s.id })}
            />
          );
        },
      }),
    ],
    [endSession],
  );
  return (
    <>
      <PageTitle>Your sessions</PageTitle>
      <Text mb="md">
        Where your account is signed in. End a session you do not recognise, then change your password.
      </Text>
      <ErrorAlert error={sessions.error} />
      <DataTable
        caption="Live sessions, most recently used first"
        data={sessions.data ?? []}
        columns={columns}
        getRowId={(s) => s.id}
        minWidth={300}
        empty={sessions.isPending ? 'Loading…' : 'No live session'}
      />
    </>
  );
}

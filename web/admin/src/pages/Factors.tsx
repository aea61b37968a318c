// The signed-in account's second factors (auth.mfa.factors): rename, remove, new recovery
// codes, add another. The server asks for a step-up (a factor verified in the last
// STEP_UP_SECONDS) before any change: when the session's is older, the page asks for one
// first (auth.mfa.verify), and again if the server answers step_up_required meanwhile. A
// staff member's last factor cannot be removed: the server's reason is shown.
import { Button, Paper, Stack, Text, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { useEffect, useMemo, useState } from 'react';
import { STEP_UP_SECONDS } from '../../../../shared/catalog.ts';
import { api, type Me, type RouterOutputs, reasonOf, stepUp, upgraded, useTRPC } from '../api.ts';
import { DataTable } from '../components/DataTable.tsx';
import { ConfirmAction, ErrorAlert, formatTime, PageTitle } from '../components/ui.tsx';
import { passkeyCeremony } from '../passkey.ts';
import { AddFactor, ProveFactor, RecoveryCodes } from './SecondFactor.tsx';

type Factor = RouterOutputs['auth']['mfa']['factors']['factors'][number];
const col = createColumnHelper<Factor>();
const KINDS = { totp: 'Authenticator app', passkey: 'Passkey' } as const;

/** The clock, read again every 15 s (a step-up runs out while the page is open). */
function useNow(): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

export function FactorsPage({ me }: { me: Me }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const factors = useQuery(trpc.auth.mfa.factors.queryOptions());
  const now = useNow();
  // The server said step_up_required for the session's current auth_time.
  const [refusedAt, setRefusedAt] = useState<number | null>(null);
  const authTime = me.authTime?.getTime() ?? null;
  // 30 s of margin: a change confirmed just before the end would be refused.
  const fresh =
    me.amr.includes('mfa') &&
    authTime !== null &&
    refusedAt !== authTime &&
    now - authTime < (STEP_UP_SECONDS - 30) * 1000;
  const [codes, setCodes] = useState<string[] | null>(null);

  const changed = () => queryClient.invalidateQueries({ queryKey: trpc.auth.mfa.factors.queryKey() });
  /** A change the server may refuse for want of a step-up: the page then asks for one. */
  const change = async (action: () => Promise<unknown>) => {
    try {
      await action();
    } catch (err) {
      if (reasonOf(err) !== 'step_up_required') throw err;
      setRefusedAt(authTime);
      throw new Error('Confirm it is you first: verify a factor at the top of this page.');
    }
    await changed();
  };

  const list = factors.data?.factors ?? [];
  const hasPasskey = list.some((f) => f.kind === 'passkey');
  // Stable columns (react-table renders a cell function as a component: a new one each
  // render would remount the cells and close an open dialog).
  // biome-ignore lint/correctness/useExhaustiveDependencies: `change` reads only authTime and stable setters
  const columns = useMemo(
    () => [
      col.accessor('name', { header: 'Name' }),
      col.accessor('kind', { header: 'Kind', cell: (c) => KINDS[c.getValue()] }),
      col.accessor('createdAt', { header: 'Added (UTC)', cell: (c) => formatTime(c.getValue()) }),
      col.accessor('lastUsedAt', { header: 'Last used (UTC)', cell: (c) => formatTime(c.getValue()) }),
      col.display({
        id: 'actions',
        header: 'Actions',
        cell: (c) => {
          const f = c.row.original;
          return (
            <Stack gap="xs" align="flex-start">
              <RenameFactor factor={f} disabled={!fresh} change={change} />
              <ConfirmAction
                label="Remove"
                ariaLabel={`Remove ${f.name}`}
                title={`Remove ${f.name}`}
                color="red"
                message={`${f.name} will no longer sign you in.`}
                disabled={!fresh}
                onConfirm={() => change(() => api.auth.mfa.remove.mutate({ factorId: f.id }))}
              />
            </Stack>
          );
        },
      }),
    ],
    [fresh, authTime],
  );

  return (
    <>
      <PageTitle>Second factors</PageTitle>
      <ErrorAlert error={factors.error} />
      {!fresh && (
        <Paper withBorder p="md" mb="md" component="section" aria-labelledby="step-up-title">
          <Title order={2} size="h4" mb="xs" id="step-up-title">
            Confirm it is you
          </Title>
          <Text mb="sm">
            Changing your second factors needs one verified in the last {STEP_UP_SECONDS / 60} minutes.
          </Text>
          <ProveFactor
            passkey={hasPasskey}
            submitLabel="Verify"
            prove={async (factor) => {
              if (factor !== 'passkey') return stepUp(factor);
              const { ceremonyToken, options } = await api.auth.mfa.verifyOptions.mutate();
              return passkeyCeremony({ get: options }, (response) =>
                stepUp({ kind: 'passkey', response }, ceremonyToken),
              );
            }}
          />
        </Paper>
      )}
      <DataTable
        caption="Your second factors"
        data={list}
        columns={columns}
        getRowId={(f) => f.id}
        empty={factors.isPending ? 'Loading…' : 'No second factor'}
      />

      <Title order={2} size="h4" mt="lg" mb="xs">
        Recovery codes
      </Title>
      <Text mb="sm" aria-live="polite">
        {factors.data ? `${factors.data.recoveryCodesLeft} unused recovery codes.` : ''} Each signs you in
        once when your factors are not at hand.
      </Text>
      {codes ? (
        <Paper withBorder p="md" component="section" aria-label="New recovery codes">
          <Stack>
            <RecoveryCodes codes={codes} />
            <Button variant="default" onClick={() => setCodes(null)} w="fit-content">
              I have kept them
            </Button>
          </Stack>
        </Paper>
      ) : (
        <ConfirmAction
          label="New recovery codes"
          title="New recovery codes"
          message="Ten new codes replace your old ones, which stop working."
          disabled={!fresh || list.length === 0}
          onConfirm={() =>
            change(async () => setCodes((await api.auth.mfa.recoveryCodes.mutate()).recoveryCodes))
          }
        />
      )}

      <Title order={2} size="h4" mt="lg" mb="xs">
        Add a factor
      </Title>
      {fresh ? (
        <AddFactor
          onAdded={async (result) => {
            if (result.recoveryCodes) setCodes(result.recoveryCodes);
            await upgraded(result);
          }}
        />
      ) : (
        <Text>Confirm it is you above first.</Text>
      )}
    </>
  );
}

function RenameFactor(props: {
  factor: Factor;
  disabled: boolean;
  change: (action: () => Promise<unknown>) => Promise<void>;
}) {
  const { factor, change } = props;
  const [name, setName] = useState('');
  return (
    <ConfirmAction
      label="Rename"
      ariaLabel={`Rename ${factor.name}`}
      title={`Rename ${factor.name}`}
      message="The name helps you tell your factors apart."
      disabled={props.disabled}
      confirmDisabled={name.trim().length === 0}
      onConfirm={async () => {
        await change(() => api.auth.mfa.rename.mutate({ factorId: factor.id, name: name.trim() }));
        setName('');
      }}
    >
      <TextInput
        label="New name"
        required
        maxLength={60}
        value={name}
        onChange={(e) => setName(e.currentTarget.value)}
      />
    </ConfirmAction>
  );
}

// One user: profile, role and plan changes (confirmed), suspension, session revocation and
// the user's audit trail. Each control shows only when the token's permissions allow it and
// the user's role is below the caller's (the server enforces both).
import { Badge, Group, Paper, Select, Stack, Text, Textarea, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { PLAN_CODES, ROLES } from '../../../../shared/catalog.ts';
import { can } from '../access.ts';
import { type Me, useTRPC } from '../api.ts';
import { ConfirmAction, ErrorAlert, formatTime, PageTitle } from '../components/ui.tsx';
import { Link } from '../router.tsx';
import { AuditTable } from './Audit.tsx';

export function UserDetailPage({ me, userId }: { me: Me; userId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const user = useQuery(trpc.admin.users.get.queryOptions({ userId }));
  const trail = useQuery({
    ...trpc.admin.audit.list.queryOptions({ targetId: userId, limit: 20 }),
    enabled: can(me, 'audit.read'),
  });
  const changed = () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: trpc.admin.users.pathKey() }),
      queryClient.invalidateQueries({ queryKey: trpc.admin.audit.pathKey() }),
    ]);
  const opts = { onSuccess: changed };
  const setRole = useMutation(trpc.admin.users.setRole.mutationOptions(opts));
  const setPlan = useMutation(trpc.admin.users.setPlan.mutationOptions(opts));
  const suspend = useMutation(trpc.admin.users.suspend.mutationOptions(opts));
  const unsuspend = useMutation(trpc.admin.users.unsuspend.mutationOptions(opts));
  const revoke = useMutation(trpc.admin.users.revokeSessions.mutationOptions(opts));
  const [role, setRoleValue] = useState<string | null>(null);
  const [plan, setPlanValue] = useState<string | null>(null);
  const [reason, setReason] = useState('');

  const u = user.data;
  if (!u)
    return (
      <>
        <PageTitle>User</PageTitle>
        <ErrorAlert error={user.error} />
      </>
    );
  // An actor never changes a user whose role is at or above its own, nor grants such a role.
  const outranked = u.privilegeLevel < me.privilegeLevel;
  const grantable = Object.entries(ROLES)
    .filter(([name, level]) => level < me.privilegeLevel && name !== u.role)
    .map(([name]) => name);

  return (
    <>
      <PageTitle>{u.name}</PageTitle>
      <Text mb="md">
        <Link to="/users">← All users</Link>
      </Text>
      <div className="two-columns">
        <Paper withBorder p="md">
          <Title order={2} size="h4" mb="sm">
            Profile
          </Title>
          <dl>
            <Field label="Email" value={u.email} />
            <Field label="Role" value={u.role} />
            <Field label="Plan" value={`${u.plan} (${u.subscriptionStatus})`} />
            <Field
              label="Status"
              value={
                <Badge variant="light" color={u.status === 'active' ? 'green' : 'red'}>
                  {u.status}
                </Badge>
              }
            />
            {u.suspendedReason && <Field label="Suspension reason" value={u.suspendedReason} />}
            <Field label="Created" value={formatTime(u.createdAt)} />
            <Field label="Last sign-in" value={formatTime(u.lastLoginAt)} />
            <Field label="User id" value={u.id} />
          </dl>
        </Paper>
        <Paper withBorder p="md">
          <Title order={2} size="h4" mb="sm">
            Actions
          </Title>
          {!outranked && <Text c="dimmed">This user&apos;s role is not below yours: no changes.</Text>}
          {outranked && (
            <Stack>
              {can(me, 'roles.assign') && (
                <Group align="flex-end">
                  <Select label="New role" data={grantable} value={role} onChange={setRoleValue} w={200} />
                  <ConfirmAction
                    label="Change role"
                    title="Change role"
                    disabled={!role}
                    message={`Change ${u.email} from ${u.role} to ${role}? Their current access tokens stop working at once.`}
                    onConfirm={() => setRole.mutateAsync({ userId, role: role! })}
                  />
                </Group>
              )}
              {can(me, 'subscriptions.manage') && (
                <Group align="flex-end">
                  <Select
                    label="New plan"
                    data={PLAN_CODES.filter((p) => p !== u.plan)}
                    value={plan}
                    onChange={setPlanValue}
                    w={200}
                  />
                  <ConfirmAction
                    label="Change plan"
                    title="Change plan"
                    disabled={!plan}
                    message={`Put ${u.email} on the ${plan} plan (was ${u.plan})?`}
                    onConfirm={() => setPlan.mutateAsync({ userId, planCode: plan! })}
                  />
                </Group>
              )}
              {can(me, 'users.manage') && (
                <Group>
                  {u.status === 'active' ? (
                    <ConfirmAction
                      label="Suspend"
                      title="Suspend user"
                      color="red"
                      message={`Suspend ${u.email}? Every session ends now and sign-in is refused.`}
                      confirmDisabled={reason.trim() === ''}
                      onConfirm={() => suspend.mutateAsync({ userId, reason: reason.trim() })}
                    >
                      <Textarea
                        label="Reason"
                        required
                        maxLength={500}
                        value={reason}
                        onChange={(e) => setReason(e.currentTarget.value)}
                      />
                    </ConfirmAction>
                  ) : (
                    <ConfirmAction
                      label="Unsuspend"
                      title="Unsuspend user"
                      message={`Let ${u.email} sign in again?`}
                      onConfirm={() => unsuspend.mutateAsync({ userId })}
                    />
                  )}
                  <ConfirmAction
                    label="Revoke sessions"
                    title="Revoke sessions"
                    color="orange"
                    message={`End every session of ${u.email}? They must sign in again.`}
                    onConfirm={() => revoke.mutateAsync({ userId })}
                  />
                </Group>
              )}
            </Stack>
          )}
        </Paper>
      </div>
      {can(me, 'audit.read') && (
        <>
          <Title order={2} size="h4" mb="sm">
            Audit trail
          </Title>
          <ErrorAlert error={trail.error} />
          <AuditTable caption={`Audit entries about ${u.email}`} items={trail.data?.items ?? []} />
          <Link to={`/audit?target=${userId}`}>All entries about this user</Link>
        </>
      )}
    </>
  );
}

function Field({ label, value }: { label: string; value: React.ReactNode }) {
  return (
    <Group gap="xs" wrap="nowrap">
      <Text component="dt" fw={600} size="sm" w={130}>
        {label}
      </Text>
      <Text component="dd" size="sm" m={0}>
        {value}
      </Text>
    </Group>
  );
}

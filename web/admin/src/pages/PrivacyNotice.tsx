// The privacy notice, shown after sign-in to an account that has not accepted the version in
// force (docs/decisions/privacy-rights.md): the API refuses every other procedure until it is
// accepted (privacy.acceptNotice). Declining signs out.
import { Alert, Button, Center, Group, List, Paper, Stack, Text, Title } from '@mantine/core';
import { useEffect, useRef, useState } from 'react';
import { acceptNotice, type Me, signOut } from '../api.ts';

export function PrivacyNoticePage({ me, version }: { me: Me; version: string }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  // Focus starts on the notice, so a keyboard or screen-reader user reads it first.
  useEffect(() => {
    heading.current?.focus();
  }, []);
  return (
    <Center mih="100vh" component="main">
      <Paper withBorder p="xl" w={560}>
        <Stack>
          <Title order={1} size="h2" ref={heading} tabIndex={-1}>
            Privacy notice
          </Title>
          <Text>
            Signed in as {me.email}. Before you use the console, read and accept the MANAS360 privacy notice,
            version {version}.
          </Text>
          <List spacing="xs">
            <List.Item>
              The console shows personal and health data of the platform's users. Open it only for the work
              your role requires; every change and disclosure is recorded in the audit log.
            </List.Item>
            <List.Item>
              Your own account data (email, name, sign-ins, the addresses you connect from) is processed to
              run and secure the service, under the Digital Personal Data Protection Act, 2023.
            </List.Item>
            <List.Item>
              You may ask for a copy of your data or for its erasure; erasure happens after a grace period you
              can cancel.
            </List.Item>
          </List>
          {error && (
            <Alert color="red" role="alert">
              {error}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => void signOut()}>
              Decline and sign out
            </Button>
            <Button
              loading={busy}
              onClick={async () => {
                setBusy(true);
                setError(null);
                try {
                  await acceptNotice(version);
                } catch (err) {
                  setError(err instanceof Error ? err.message : 'Accepting the notice failed');
                  setBusy(false);
                }
              }}
            >
              Accept the notice
            </Button>
          </Group>
        </Stack>
      </Paper>
    </Center>
  );
}

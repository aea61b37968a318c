// Second factors in the console (docs/decisions/staff-mfa.md): sign-in step 2 (a code from
// the authenticator app, a recovery code, or a passkey), the enrolment a staff account must
// complete before any other page (TOTP with a QR code, or a passkey), and the pieces the
// factors page (Factors.tsx) reuses: proving a factor, adding one, showing recovery codes.
import {
  Button,
  Center,
  Code,
  Group,
  Image,
  List,
  Paper,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import QRCode from 'qrcode';
import { useState } from 'react';
import {
  api,
  type CodeProof,
  codeProof,
  completeSignIn,
  type Me,
  type RouterOutputs,
  signInPasskeyOptions,
  signOut,
  upgraded,
} from '../api.ts';
import { ErrorAlert, useAction } from '../components/ui.tsx';
import { passkeyCeremony } from '../passkey.ts';

/**
 * A factor proved: a passkey button (when the account has one) and a code field (TOTP or
 * recovery). `prove` gets 'passkey' or the code typed.
 */
export function ProveFactor(props: {
  passkey: boolean;
  prove: (factor: 'passkey' | CodeProof) => Promise<void>;
  submitLabel: string;
}) {
  const [code, setCode] = useState('');
  const { busy, error, run } = useAction();
  return (
    <Stack>
      <ErrorAlert error={error} />
      {props.passkey && (
        <Button loading={busy} onClick={() => run(() => props.prove('passkey'))}>
          Use a passkey
        </Button>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run(() => props.prove(codeProof(code)));
        }}
      >
        <Stack>
          <TextInput
            label="Code from your authenticator app, or a recovery code"
            autoComplete="one-time-code"
            required
            maxLength={40}
            value={code}
            onChange={(e) => setCode(e.currentTarget.value)}
          />
          <Button type="submit" loading={busy} variant="light">
            {props.submitLabel}
          </Button>
        </Stack>
      </form>
    </Stack>
  );
}

export function FactorPage({ challengeToken, factors }: { challengeToken: string; factors: string[] }) {
  return (
    <Center mih="100vh" component="main" p="sm">
      <Paper withBorder p="xl" w={400} maw="100%">
        <Stack>
          <Title order={1} size="h2">
            Second factor
          </Title>
          <ProveFactor
            passkey={factors.includes('passkey')}
            submitLabel="Verify code"
            prove={async (factor) =>
              factor === 'passkey'
                ? passkeyCeremony({ get: await signInPasskeyOptions(challengeToken) }, (response) =>
                    completeSignIn(challengeToken, { kind: 'passkey', response }),
                  )
                : completeSignIn(challengeToken, factor)
            }
          />
          <Button variant="subtle" onClick={() => void signOut()}>
            Cancel
          </Button>
        </Stack>
      </Paper>
    </Center>
  );
}

export type Enrolled = RouterOutputs['auth']['mfa']['totp']['confirm'];

export function RecoveryCodes({ codes }: { codes: string[] }) {
  return (
    <>
      <Text>Keep these recovery codes somewhere safe. Each works once, instead of your factor.</Text>
      <List aria-label="Recovery codes">
        {codes.map((c) => (
          <List.Item key={c}>
            <Code>{c}</Code>
          </List.Item>
        ))}
      </List>
    </>
  );
}

/** Adding a factor: a passkey, or an authenticator app (QR code, or its key typed in). */
export function AddFactor({ onAdded }: { onAdded: (result: Enrolled) => void | Promise<void> }) {
  const [totp, setTotp] = useState<{ enrolmentToken: string; secret: string; qr: string } | null>(null);
  const [code, setCode] = useState('');
  const { busy, error, run } = useAction();
  return (
    <Stack>
      <ErrorAlert error={error} />
      <Group>
        <Button
          loading={busy}
          onClick={() =>
            run(async () => {
              const begun = await api.auth.mfa.passkey.begin.mutate();
              await onAdded(
                await passkeyCeremony({ create: begun.options }, (response) =>
                  api.auth.mfa.passkey.confirm.mutate({ enrolmentToken: begun.enrolmentToken, response }),
                ),
              );
            })
          }
        >
          Add a passkey
        </Button>
        <Button
          variant="light"
          loading={busy}
          onClick={() =>
            run(async () => {
              const begun = await api.auth.mfa.totp.begin.mutate();
              setTotp({ ...begun, qr: await QRCode.toDataURL(begun.uri) });
            })
          }
        >
          Use an authenticator app
        </Button>
      </Group>
      {totp && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void run(async () => {
              await onAdded(
                await api.auth.mfa.totp.confirm.mutate({
                  enrolmentToken: totp.enrolmentToken,
                  code: code.trim(),
                }),
              );
              setTotp(null);
              setCode('');
            });
          }}
        >
          <Stack>
            <Image src={totp.qr} alt="QR code for your authenticator app" w={200} h={200} />
            <Text size="sm">
              Or enter this key: <Code data-testid="totp-secret">{totp.secret}</Code>
            </Text>
            <TextInput
              label="Code from the app"
              autoComplete="one-time-code"
              inputMode="numeric"
              required
              maxLength={6}
              value={code}
              onChange={(e) => setCode(e.currentTarget.value)}
            />
            <Button type="submit" loading={busy}>
              Confirm
            </Button>
          </Stack>
        </form>
      )}
    </Stack>
  );
}

export function EnrolPage({ me }: { me: Me }) {
  const [done, setDone] = useState<Enrolled | null>(null);
  if (done)
    return (
      <Center mih="100vh" component="main" p="sm">
        <Paper withBorder p="xl" w={480} maw="100%">
          <Stack>
            <Title order={1} size="h2">
              Second factor added
            </Title>
            {done.recoveryCodes && <RecoveryCodes codes={done.recoveryCodes} />}
            <Button onClick={() => void upgraded(done)}>Continue</Button>
          </Stack>
        </Paper>
      </Center>
    );
  return (
    <Center mih="100vh" component="main" p="sm">
      <Paper withBorder p="xl" w={480} maw="100%">
        <Stack>
          <Title order={1} size="h2">
            Set up a second factor
          </Title>
          <Text>
            Your role ({me.role}) can read health data: {me.email} needs a passkey or an authenticator app to
            sign in.
          </Text>
          <AddFactor onAdded={setDone} />
          <Button variant="subtle" onClick={() => void signOut()}>
            Sign out
          </Button>
        </Stack>
      </Paper>
    </Center>
  );
}

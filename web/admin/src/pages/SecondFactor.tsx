// Second factors in the console (docs/decisions/staff-mfa.md): sign-in step 2 (a code from
// the authenticator app, a recovery code, or a passkey) and the enrolment a staff account
// must complete before any other page (TOTP with a QR code, or a passkey).
import {
  Alert,
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
import { startAuthentication, startRegistration } from '@simplewebauthn/browser';
import QRCode from 'qrcode';
import { useState } from 'react';
import { api, completeSignIn, type Me, signInPasskeyOptions, signOut, upgraded } from '../api.ts';

const message = (err: unknown) => (err instanceof Error ? err.message : 'That did not work');

export function FactorPage({ challengeToken, factors }: { challengeToken: string; factors: string[] }) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Center h="100vh" component="main">
      <Paper withBorder p="xl" w={400}>
        <Stack>
          <Title order={1} size="h2">
            Second factor
          </Title>
          {error && (
            <Alert color="red" role="alert">
              {error}
            </Alert>
          )}
          {factors.includes('passkey') && (
            <Button
              loading={busy}
              onClick={() =>
                run(async () => {
                  const optionsJSON = await signInPasskeyOptions(challengeToken);
                  const response = await startAuthentication({ optionsJSON });
                  await completeSignIn(challengeToken, { kind: 'passkey', response: response as never });
                })
              }
            >
              Use a passkey
            </Button>
          )}
          <form
            onSubmit={(e) => {
              e.preventDefault();
              const kind = /^\d{6}$/.test(code.trim()) ? 'totp' : 'recovery';
              void run(() => completeSignIn(challengeToken, { kind, code: code.trim() }));
            }}
          >
            <Stack>
              <TextInput
                label="Code from your authenticator app, or a recovery code"
                autoComplete="one-time-code"
                required
                value={code}
                onChange={(e) => setCode(e.currentTarget.value)}
              />
              <Button type="submit" loading={busy} variant="light">
                Verify code
              </Button>
            </Stack>
          </form>
          <Button variant="subtle" onClick={() => void signOut()}>
            Cancel
          </Button>
        </Stack>
      </Paper>
    </Center>
  );
}

interface Enrolled {
  recoveryCodes: string[] | null;
  accessToken: string;
  expiresIn: number;
}

export function EnrolPage({ me }: { me: Me }) {
  const [totp, setTotp] = useState<{ enrolmentToken: string; secret: string; qr: string } | null>(null);
  const [code, setCode] = useState('');
  const [done, setDone] = useState<Enrolled | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  if (done)
    return (
      <Center h="100vh" component="main">
        <Paper withBorder p="xl" w={480}>
          <Stack>
            <Title order={1} size="h2">
              Second factor added
            </Title>
            {done.recoveryCodes && (
              <>
                <Text>
                  Keep these recovery codes somewhere safe. Each works once, instead of your factor.
                </Text>
                <List aria-label="Recovery codes">
                  {done.recoveryCodes.map((c) => (
                    <List.Item key={c}>
                      <Code>{c}</Code>
                    </List.Item>
                  ))}
                </List>
              </>
            )}
            <Button onClick={() => void upgraded(done)}>Continue</Button>
          </Stack>
        </Paper>
      </Center>
    );
  return (
    <Center h="100vh" component="main">
      <Paper withBorder p="xl" w={480}>
        <Stack>
          <Title order={1} size="h2">
            Set up a second factor
          </Title>
          <Text>
            Your role ({me.role}) can read health data: {me.email} needs a passkey or an authenticator app to
            sign in.
          </Text>
          {error && (
            <Alert color="red" role="alert">
              {error}
            </Alert>
          )}
          <Group>
            <Button
              loading={busy}
              onClick={() =>
                run(async () => {
                  const begun = await api.auth.mfa.passkey.begin.mutate();
                  const response = await startRegistration({ optionsJSON: begun.options });
                  setDone(
                    await api.auth.mfa.passkey.confirm.mutate({
                      enrolmentToken: begun.enrolmentToken,
                      response: response as never,
                    }),
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
                void run(async () =>
                  setDone(
                    await api.auth.mfa.totp.confirm.mutate({
                      enrolmentToken: totp.enrolmentToken,
                      code: code.trim(),
                    }),
                  ),
                );
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
                  required
                  value={code}
                  onChange={(e) => setCode(e.currentTarget.value)}
                />
                <Button type="submit" loading={busy}>
                  Confirm
                </Button>
              </Stack>
            </form>
          )}
          <Button variant="subtle" onClick={() => void signOut()}>
            Sign out
          </Button>
        </Stack>
      </Paper>
    </Center>
  );
}

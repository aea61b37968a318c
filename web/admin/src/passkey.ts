// The browser's half of every passkey ceremony of the console (enrolment, sign-in, step-up):
// the server's options go to navigator.credentials (through @simplewebauthn/browser), the
// authenticator's answer goes back to the server, which verifies it.
import { startAuthentication, startRegistration } from '@simplewebauthn/browser';
import type { RouterInputs } from './api.ts';

type CreationOptions = Parameters<typeof startRegistration>[0]['optionsJSON'];
type RequestOptions = Parameters<typeof startAuthentication>[0]['optionsJSON'];
/** What the server's procedures take: the JSON of navigator.credentials.create() / get(). */
type Registration = RouterInputs['auth']['mfa']['passkey']['confirm']['response'];
type Assertion = Extract<RouterInputs['auth']['mfa']['verify']['factor'], { kind: 'passkey' }>['response'];

/** The browser's refusals (cancelled prompt, timeout, no authenticator) in words a person acts on. */
function readable(err: unknown): Error {
  const name = err instanceof Error ? err.name : '';
  if (name === 'NotAllowedError' || name === 'AbortError')
    return new Error('The passkey prompt was cancelled or timed out; try again');
  if (name === 'InvalidStateError') return new Error('This passkey is already registered');
  return err instanceof Error ? err : new Error('The passkey did not work');
}

/**
 * Runs a ceremony: `{ create }` (registration options) makes a new passkey, `{ get }`
 * (request options) uses one; `finish` sends the response to the server.
 */
export function passkeyCeremony<R>(
  ceremony: { create: CreationOptions },
  finish: (response: Registration) => Promise<R>,
): Promise<R>;
export function passkeyCeremony<R>(
  ceremony: { get: RequestOptions },
  finish: (response: Assertion) => Promise<R>,
): Promise<R>;
export async function passkeyCeremony<R>(
  ceremony: { create: CreationOptions } | { get: RequestOptions },
  finish: (response: never) => Promise<R>,
): Promise<R> {
  let response: unknown;
  try {
    response =
      'create' in ceremony
        ? await startRegistration({ optionsJSON: ceremony.create })
        : await startAuthentication({ optionsJSON: ceremony.get });
  } catch (err) {
    throw readable(err);
  }
  // The library's JSON types are the server's input schemas (shared/inputs/mfa.ts) with
  // DOM-typed fields; the server checks every field.
  return finish(response as never);
}

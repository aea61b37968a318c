// npm run keys:generate — prints the secrets production needs:
//   JWT_PRIVATE_KEYS: a JWK set with a new Ed25519 signing key first, followed by the keys
//     already in JWT_PRIVATE_KEYS (rotation: sign with the newest, verify with all; drop
//     an old key once the access-token lifetime has passed since the rotation);
//   NOTES_ENCRYPTION_KEY: a new 32-byte key as kid:base64, followed by the current ones
//     (notes are decrypted with the key their row names; new notes use the first).
// Store the output in your secret manager; never commit it.
import { generatePrivateJwk, parsePrivateKeys } from '../server/auth/keys.ts';
import { generateNotesKeyEntry } from '../server/crypto/notes.ts';

const current = process.env.JWT_PRIVATE_KEYS ? parsePrivateKeys(process.env.JWT_PRIVATE_KEYS) : [];
const jwks = { keys: [await generatePrivateJwk(), ...current] };
const notes = [generateNotesKeyEntry(), process.env.NOTES_ENCRYPTION_KEY].filter(Boolean).join(',');
console.log(`JWT_PRIVATE_KEYS='${JSON.stringify(jwks)}'`);
console.log(`NOTES_ENCRYPTION_KEY='${notes}'`);

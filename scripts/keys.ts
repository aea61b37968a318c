// npm run keys:generate — prints the secrets production needs, one `NAME=value` line each,
// without quotes or spaces: valid in a shell (`source`), in .env and in `docker --env-file`.
//   JWT_PRIVATE_KEYS: a JWK set (base64url-encoded JSON) with a new Ed25519 signing key first,
//     followed by the keys already in JWT_PRIVATE_KEYS (rotation: sign with the newest,
//     verify with all; drop an old key once the access-token lifetime has passed since the
//     rotation);
//   NOTES_ENCRYPTION_KEY: a new 32-byte key as kid:base64, followed by the current ones
//     (notes are decrypted with the key their row names; new notes use the first).
// Reads ./.env when present. Store the output in your secret manager; never commit it.
import { encodePrivateKeys, generatePrivateJwk, parsePrivateKeys } from '../server/auth/keys.ts';
import { loadDotEnv } from '../server/config.ts';
import { generateNotesKeyEntry } from '../server/crypto/notes.ts';

loadDotEnv();
const current = process.env.JWT_PRIVATE_KEYS ? parsePrivateKeys(process.env.JWT_PRIVATE_KEYS) : [];
const notes = [generateNotesKeyEntry(), process.env.NOTES_ENCRYPTION_KEY].filter(Boolean).join(',');
console.log(`JWT_PRIVATE_KEYS=${encodePrivateKeys([await generatePrivateJwk(), ...current])}`);
console.log(`NOTES_ENCRYPTION_KEY=${notes}`);

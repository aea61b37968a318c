// Session notes at rest: AES-256-GCM (node:crypto) with a random 12-byte IV per note. Each
// ciphertext is stored with the id of the key that made it, so keys rotate: new notes use
// the newest key, old notes decrypt with the key their row names. The session id is bound
// in as associated data, so a ciphertext copied onto another session's row fails to decrypt.
//
// Per-user data keys (crypto-shredding): a note about a patient is sealed with that
// patient's own data key, stored wrapped (sealed) by the notes key with the user id as
// associated data. Erasing the patient destroys the wrapped key, and with it every copy of
// their notes (backups, replicas) becomes unreadable. Notes written before data keys
// existed are sealed with the notes key itself and still open (docs/decisions/privacy-rights.md).
//
// NOTES_ENCRYPTION_KEY: `base64key` or `kid:base64key,kid:base64key` (newest first). A key
// without a kid gets one derived from the key (a hash prefix), stable across restarts.
// Development without the variable generates a key under DATA_DIR; tests get a throwaway
// key; production refuses to start (server/config.ts).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.ts';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

export interface NotesKey {
  kid: string;
  key: Buffer;
}

export interface SealedNote {
  keyId: string;
  /** base64url iv.tag.ciphertext */
  ciphertext: string;
}

export class NotesKeyError extends Error {}

/** Thrown when a stored note cannot be opened; says which key, never what the note holds. */
export class NoteDecryptError extends Error {}

export class NotesCipher {
  private readonly keys: Map<string, Buffer>;
  private readonly current: NotesKey;

  /** keys: newest first; the first one encrypts. */
  constructor(keys: NotesKey[]) {
    const [current] = keys;
    if (!current) throw new NotesKeyError('no notes encryption key');
    this.current = current;
    this.keys = new Map();
    for (const { kid, key } of keys) {
      if (key.length !== 32) throw new NotesKeyError(`notes key ${kid} is not 32 bytes`);
      if (this.keys.has(kid)) throw new NotesKeyError(`notes key id ${kid} appears twice`);
      this.keys.set(kid, key);
    }
  }

  get keyId(): string {
    return this.current.kid;
  }

  /** `context` (the session id) must be given again to open the note. */
  seal(plaintext: string, context: string): SealedNote {
    return { keyId: this.current.kid, ciphertext: aesSeal(this.current.key, plaintext, context) };
  }

  open(sealed: SealedNote, context: string): string {
    const key = this.keys.get(sealed.keyId);
    if (!key) throw new NoteDecryptError(`no notes key with id ${sealed.keyId} is configured`);
    return aesOpen(key, sealed.ciphertext, context, sealed.keyId).toString('utf8');
  }

  /** A new data key for a user, and its wrapped form (sealed by the current notes key) to store. */
  newDataKey(userId: string): { key: Buffer; wrapped: SealedNote } {
    const key = randomBytes(32);
    return { key, wrapped: this.seal(key.toString('base64'), dataKeyContext(userId)) };
  }

  /** Opens a user's wrapped data key (bound to the user id: another user's row fails). */
  unwrapDataKey(userId: string, wrapped: SealedNote): Buffer {
    const key = Buffer.from(this.open(wrapped, dataKeyContext(userId)), 'base64');
    if (key.length !== 32) throw new NoteDecryptError('a wrapped data key is not 32 bytes');
    return key;
  }
}

const dataKeyContext = (userId: string) => `data-key:${userId}`;

/** Seals a note with a user's data key; `context` (the session id) is bound as associated data. */
export function sealWithDataKey(dataKey: Buffer, plaintext: string, context: string): string {
  return aesSeal(dataKey, plaintext, context);
}

export function openWithDataKey(dataKey: Buffer, ciphertext: string, context: string): string {
  return aesOpen(dataKey, ciphertext, context, 'data key').toString('utf8');
}

/** AES-256-GCM: base64url `iv.tag.ciphertext`, a random IV each time, `aad` authenticated. */
function aesSeal(key: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url')).join('.');
}

function aesOpen(key: Buffer, ciphertext: string, aad: string, keyName: string): Buffer {
  const [iv, tag, body] = ciphertext.split('.').map((p) => Buffer.from(p, 'base64url'));
  if (!iv || !tag || body === undefined || iv.length !== IV_BYTES || tag.length !== TAG_BYTES)
    throw new NoteDecryptError('malformed note ciphertext');
  try {
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new NoteDecryptError(`note failed authentication under key ${keyName}`);
  }
}

/** Parses NOTES_ENCRYPTION_KEY: `key` or `kid:key` pairs, comma-separated, newest first. */
export function parseNotesKeys(value: string): NotesKey[] {
  return value.split(',').map((part) => {
    const entry = part.trim();
    const colon = entry.lastIndexOf(':');
    const encoded = colon >= 0 ? entry.slice(colon + 1) : entry;
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== 32)
      throw new NotesKeyError('invalid configuration: NOTES_ENCRYPTION_KEY keys must be 32 bytes (base64)');
    const kid = colon >= 0 ? entry.slice(0, colon) : derivedKid(key);
    if (!KID_PATTERN.test(kid))
      throw new NotesKeyError(
        'invalid configuration: NOTES_ENCRYPTION_KEY key ids must match [A-Za-z0-9_-]{1,32}',
      );
    return { kid, key };
  });
}

function derivedKid(key: Buffer): string {
  return `k${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

/** Makes a new `kid:base64key` entry for NOTES_ENCRYPTION_KEY. */
export function generateNotesKeyEntry(): string {
  const key = randomBytes(32);
  return `${derivedKid(key)}:${key.toString('base64')}`;
}

/**
 * The cipher the configuration names. Without NOTES_ENCRYPTION_KEY: development keeps a
 * generated key in DATA_DIR/notes-key (and says so), tests use a throwaway key, production
 * refuses.
 */
export function loadNotesCipher(
  config: Pick<Config, 'NOTES_ENCRYPTION_KEY' | 'DATA_DIR' | 'NODE_ENV'>,
  warn: (msg: string) => void = () => {},
): NotesCipher {
  if (config.NOTES_ENCRYPTION_KEY) return new NotesCipher(parseNotesKeys(config.NOTES_ENCRYPTION_KEY));
  if (config.NODE_ENV === 'production')
    throw new NotesKeyError('invalid configuration: NOTES_ENCRYPTION_KEY is required in production');
  if (config.NODE_ENV === 'test') return new NotesCipher(parseNotesKeys(generateNotesKeyEntry()));
  const file = join(config.DATA_DIR, 'notes-key');
  if (!existsSync(file)) {
    mkdirSync(config.DATA_DIR, { recursive: true });
    writeFileSync(file, `${generateNotesKeyEntry()}\n`, { mode: 0o600 });
    warn(`generated a development notes encryption key in ${file} (set NOTES_ENCRYPTION_KEY in production)`);
  }
  return new NotesCipher(parseNotesKeys(readFileSync(file, 'utf8').trim()));
}

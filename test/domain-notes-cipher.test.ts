// The session-notes cipher on its own: AES-256-GCM round trip, key ids and rotation,
// tampering, and how keys are configured (NOTES_ENCRYPTION_KEY, development, production).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  loadNotesCipher,
  NoteDecryptError,
  NotesCipher,
  NotesKeyError,
  parseNotesKeys,
} from '../server/crypto/notes.ts';

const key = () => randomBytes(32).toString('base64');

describe('notes cipher', () => {
  it('round-trips a note and never repeats an IV or ciphertext', () => {
    const cipher = new NotesCipher(parseNotesKeys(`k1:${key()}`));
    const a = cipher.seal('the patient talked about work', 'session-1');
    const b = cipher.seal('the patient talked about work', 'session-1');
    expect(a.keyId).toBe('k1');
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(a.ciphertext.split('.')[0]).not.toBe(b.ciphertext.split('.')[0]);
    expect(a.ciphertext).not.toContain('work');
    expect(cipher.open(a, 'session-1')).toBe('the patient talked about work');
    expect(cipher.open(b, 'session-1')).toBe('the patient talked about work');
  });

  it('opens old notes after a rotation and seals new ones with the newest key', () => {
    const oldKey = key();
    const before = new NotesCipher(parseNotesKeys(`old:${oldKey}`));
    const sealed = before.seal('before rotation', 's');
    const after = new NotesCipher(parseNotesKeys(`new:${key()},old:${oldKey}`));
    expect(after.open(sealed, 's')).toBe('before rotation');
    expect(after.seal('after rotation', 's').keyId).toBe('new');
    // Once the old key is retired, its notes cannot be opened, and the error names only the key.
    const retired = new NotesCipher(parseNotesKeys(`new:${key()}`));
    expect(() => retired.open(sealed, 's')).toThrow(/no notes key with id old/);
  });

  it('refuses a tampered ciphertext, a wrong key id and a note moved to another session', () => {
    const cipher = new NotesCipher(parseNotesKeys(`a:${key()},b:${key()}`));
    const sealed = cipher.seal('secret words', 'session-1');
    const [iv, tag, body] = sealed.ciphertext.split('.');
    const flipped = Buffer.from(body!, 'base64url');
    flipped[0]! ^= 1;
    for (const bad of [
      { ...sealed, ciphertext: [iv, tag, flipped.toString('base64url')].join('.') },
      { ...sealed, ciphertext: `${iv}.${tag}` },
      { ...sealed, keyId: 'b' },
    ]) {
      const err = (() => {
        try {
          cipher.open(bad, 'session-1');
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(NoteDecryptError);
      expect(String((err as Error).message)).not.toContain('secret');
    }
    expect(() => cipher.open(sealed, 'session-2')).toThrow(NoteDecryptError);
  });

  it('parses a bare key with a stable derived id, and kid:key pairs', () => {
    const k = key();
    const [bare] = parseNotesKeys(k);
    expect(bare!.kid).toMatch(/^k[0-9a-f]{12}$/);
    expect(parseNotesKeys(k)[0]!.kid).toBe(bare!.kid);
    expect(parseNotesKeys(`2026-01:${k}, 2025-06:${key()}`).map((e) => e.kid)).toEqual([
      '2026-01',
      '2025-06',
    ]);
  });

  it.each([
    ['a short key', Buffer.alloc(16).toString('base64')],
    ['a bad key id', `bad kid!:${key()}`],
  ])('refuses %s', (_what, value) => {
    expect(() => parseNotesKeys(value)).toThrow(NotesKeyError);
  });

  it('refuses a key id used twice', () => {
    expect(() => new NotesCipher(parseNotesKeys(`a:${key()},a:${key()}`))).toThrow(/twice/);
  });

  it('requires NOTES_ENCRYPTION_KEY in production', () => {
    expect(() => loadNotesCipher({ NODE_ENV: 'production', DATA_DIR: '/nonexistent' })).toThrow(
      NotesKeyError,
    );
  });

  it('generates a development key under DATA_DIR once, says so, and reuses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'notes-key-'));
    try {
      const warnings: string[] = [];
      const first = loadNotesCipher({ NODE_ENV: 'development', DATA_DIR: dir }, (m) => warnings.push(m));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(join(dir, 'notes-key'));
      expect(statSync(join(dir, 'notes-key')).mode & 0o777).toBe(0o600);
      const sealed = first.seal('kept across restarts', 'x');
      const second = loadNotesCipher({ NODE_ENV: 'development', DATA_DIR: dir }, (m) => warnings.push(m));
      expect(warnings).toHaveLength(1);
      expect(second.open(sealed, 'x')).toBe('kept across restarts');
      expect(readFileSync(join(dir, 'notes-key'), 'utf8')).toContain(`${first.keyId}:`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

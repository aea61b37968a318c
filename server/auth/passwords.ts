// Password hashing with Node's scrypt (N=2^17, r=8, p=1: the OWASP recommendation), so
// no native package is needed. A hash is self-describing — `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>`
// (salt and hash base64url) — so verification reads the parameters from the hash and old
// hashes keep working when the cost changes. Lengths (8–128) are enforced by the zod
// input schemas before anything is hashed: a 1 MB password never reaches scrypt.
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/** log2 of scrypt's N in production. */
export const DEFAULT_HASH_COST = 17;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
const SALT_BYTES = 16;
// scrypt needs 128 * N * r bytes (128 MiB at N=2^17); Node's default cap is 32 MiB.
const MAX_MEM = 256 * 1024 * 1024;
const PREFIX = 'scrypt';

function scryptAsync(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export interface PasswordHasher {
  /** log2 N used for new hashes. */
  readonly cost: number;
  hash(password: string): Promise<string>;
  /** Constant-time comparison; false for a malformed stored hash. */
  verify(password: string, stored: string): Promise<boolean>;
  /**
   * Burns the same time as a real verification (against a fixed hash made with the
   * current cost), so an unknown email costs what a wrong password costs.
   */
  dummyVerify(password: string): Promise<void>;
}

/**
 * `cost` is log2 N. Lower values exist only for tests (PASSWORD_HASH_COST, refused in
 * production by server/config.ts).
 */
export function createPasswordHasher(cost = DEFAULT_HASH_COST): PasswordHasher {
  const hash = async (password: string) => {
    const salt = randomBytes(SALT_BYTES);
    const key = await scryptAsync(password, salt, KEY_LENGTH, { N: 2 ** cost, r: R, p: P, maxmem: MAX_MEM });
    return [PREFIX, cost, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
  };
  const verify = async (password: string, stored: string) => {
    const parts = stored.split('$');
    if (parts.length !== 6 || parts[0] !== PREFIX) return false;
    const [logN, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
    // Refuse parameters outside a sane range rather than letting a bad row burn a core.
    if (!(logN >= 10 && logN <= 20 && r >= 1 && r <= 32 && p >= 1 && p <= 4)) return false;
    const salt = Buffer.from(parts[4]!, 'base64url');
    const expected = Buffer.from(parts[5]!, 'base64url');
    if (expected.length < 16) return false;
    const actual = await scryptAsync(password, salt, expected.length, {
      N: 2 ** logN,
      r,
      p,
      maxmem: MAX_MEM,
    });
    return timingSafeEqual(actual, expected);
  };
  // Made once, up front, so even the first unknown-email login costs one verification.
  const dummy = hash('dummy password for unknown accounts');
  dummy.catch(() => {});
  return {
    cost,
    hash,
    verify,
    async dummyVerify(password) {
      await verify(password, await dummy);
    },
  };
}

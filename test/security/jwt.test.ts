// SECURITY-TESTS 1–22 and 30: forged, malformed and mis-typed access tokens against the real
// HTTP server (status, body without internals) and, where more precise, TokenService.verify.
// Tokens are built by hand (base64url header.payload + signature from node:crypto) so any
// header or claim an attacker controls can be set, including ones jose refuses to sign.
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  randomUUID,
  sign as signWith,
} from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { onQuery } from '../../db/client.ts';
import { generatePrivateJwk, hmacKeyRing, loadKeyRing } from '../../server/auth/keys.ts';
import { InvalidTokenError } from '../../server/auth/tokens.ts';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { SAMPLE_SUBJECT } from '../fixtures/domain.ts';
import { NOTICE } from '../helpers.ts';
import { leaksInternals, registerUser, startTestServer, type TestServer, trpcInput } from '../server.ts';

const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');
type Header = Record<string, unknown>;
type Payload = Record<string, unknown>;
type Signer = (signingInput: string) => Buffer;

/** header.payload.signature, exactly as given (no checks, no normalisation). */
function craft(header: Header, payload: Payload, signer: Signer | null): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${signer ? b64url(signer(input)) : ''}`;
}
const edSigner =
  (key: KeyObject): Signer =>
  (input) =>
    signWith(null, Buffer.from(input), key);
const hmacSigner =
  (hash: 'sha256' | 'sha512', key: Buffer | string): Signer =>
  (input) =>
    createHmac(hash, key).update(input).digest();

const now = () => Math.floor(Date.now() / 1000);
/** A complete, valid claim set for a patient (the user need not exist: auth.me reads no DB). */
function claims(overrides: Payload = {}): Payload {
  const iat = now();
  return {
    sub: randomUUID(),
    email: 'patient@example.com',
    role: 'patient',
    privilegeLevel: 10,
    permissions: ['profile.read', 'mood.read'],
    features: ['mood_tracking', 'assessments'],
    plan: 'free',
    sid: randomUUID(),
    jti: randomUUID(),
    iat,
    exp: iat + 600,
    iss: 'manas360',
    aud: 'manas360-api',
    ...overrides,
  };
}

/** GET auth.me with a raw Authorization header value. */
async function callMe(server: TestServer, authorization: string | undefined) {
  const res = await fetch(`${server.url}/trpc/auth.me`, {
    headers: authorization === undefined ? {} : { authorization },
  });
  return { status: res.status, body: await res.text() };
}

async function expectRefused(server: TestServer, token: string, authorization = `Bearer ${token}`) {
  const { status, body } = await callMe(server, authorization);
  expect(status, body).toBe(401);
  expect(JSON.parse(body).error.json.data.code).toBe('UNAUTHORIZED');
  expect(leaksInternals(body), body).toBe(false);
}
async function expectAccepted(server: TestServer, token: string) {
  const { status, body } = await callMe(server, `Bearer ${token}`);
  expect(status, body).toBe(200);
}
/** The token service itself refuses the token (not just the HTTP layer). */
async function expectVerifyFails(server: TestServer, token: string) {
  await expect(server.deps.tokens.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);
}

describe('access tokens under attack (SECURITY-TESTS 1–22, 30)', () => {
  let ed: TestServer; // Ed25519 (EdDSA) keys, the default
  let hs: TestServer; // HS256 with a known secret
  let edJwk: JWK;
  let edPrivate: KeyObject;
  let kid: string;
  const secret = randomBytes(32).toString('hex');
  const attacker = generateKeyPairSync('ed25519');
  const edHeader = (extra: Header = {}): Header => ({ alg: 'EdDSA', typ: 'at+jwt', kid, ...extra });
  const hsHeader = (extra: Header = {}): Header => ({ alg: 'HS256', typ: 'at+jwt', kid: 'hs256', ...extra });
  const goodEd = (payload: Payload = claims(), header: Header = edHeader()) =>
    craft(header, payload, edSigner(edPrivate));

  beforeAll(async () => {
    edJwk = await generatePrivateJwk();
    kid = edJwk.kid!;
    edPrivate = createPrivateKey({ key: edJwk as never, format: 'jwk' });
    [ed, hs] = await Promise.all([
      startTestServer({ env: { JWT_PRIVATE_KEYS: JSON.stringify({ keys: [edJwk] }) } }),
      startTestServer({ env: { JWT_SECRET: secret } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([ed?.close(), hs?.close()]);
  });

  it('00 control: hand-crafted tokens with valid signatures and claims are accepted', async () => {
    await expectAccepted(ed, goodEd());
    await expectAccepted(hs, craft(hsHeader(), claims(), hmacSigner('sha256', secret)));
    const { status } = await callMe(ed, undefined);
    expect(status).toBe(401); // anonymous on a protected procedure
  });

  it('01 alg:none and a stripped signature → 401', async () => {
    const none = craft({ alg: 'none', typ: 'at+jwt', kid }, claims(), null);
    await expectRefused(ed, none);
    await expectRefused(hs, craft({ alg: 'none', typ: 'at+jwt' }, claims(), null));
    const real = goodEd();
    const stripped = real.slice(0, real.lastIndexOf('.') + 1);
    await expectRefused(ed, stripped);
    await expectVerifyFails(ed, none);
    await expectVerifyFails(ed, stripped);
  });

  it('02 alg "NONE" / "nOnE" / "None" → 401', async () => {
    for (const alg of ['NONE', 'nOnE', 'None']) {
      const token = craft({ alg, typ: 'at+jwt', kid }, claims(), null);
      await expectRefused(ed, token);
      await expectVerifyFails(ed, token);
    }
  });

  it('03 HS256 signed with the EdDSA public key (raw, base64url, PEM, JWK JSON) → 401', async () => {
    const pub = createPublicKey(edPrivate);
    const forms: Array<Buffer | string> = [
      Buffer.from(edJwk.x!, 'base64url'),
      edJwk.x!,
      pub.export({ type: 'spki', format: 'pem' }) as string,
      JSON.stringify(ed.deps.tokens.jwks.keys[0]),
      JSON.stringify(ed.deps.tokens.jwks),
    ];
    for (const key of forms) {
      const token = craft(edHeader({ alg: 'HS256' }), claims(), hmacSigner('sha256', key));
      await expectRefused(ed, token);
      await expectVerifyFails(ed, token);
    }
  });

  it('04 HS512 with the right secret where only HS256 is allowed → 401', async () => {
    const token = craft(hsHeader({ alg: 'HS512' }), claims(), hmacSigner('sha512', secret));
    await expectRefused(hs, token);
    await expectVerifyFails(hs, token);
  });

  it('05 kid "../../../dev/null" (and a path to a readable file) → 401, the file is never a key', async () => {
    // The classic attack signs HS256 with the file's content (empty for /dev/null).
    const devNull = '../../../dev/null';
    const dir = mkdtempSync(join(tmpdir(), 'kid-'));
    const file = join(dir, 'key.txt');
    writeFileSync(file, 'attacker-chosen-key-material');
    const cases = [
      craft(hsHeader({ kid: devNull }), claims(), hmacSigner('sha256', '')),
      craft(
        hsHeader({ kid: `../../../../../../..${file}` }),
        claims(),
        hmacSigner('sha256', 'attacker-chosen-key-material'),
      ),
      craft(hsHeader({ kid: file }), claims(), hmacSigner('sha256', 'attacker-chosen-key-material')),
    ];
    for (const token of cases) {
      await expectRefused(hs, token);
      await expectVerifyFails(hs, token);
    }
    // On the EdDSA server too, with a correct signature under a traversal kid.
    await expectRefused(ed, goodEd(claims(), edHeader({ kid: devNull })));
    await expectRefused(
      ed,
      craft(edHeader({ alg: 'HS256', kid: devNull }), claims(), hmacSigner('sha256', '')),
    );
  });

  it('06 kid "x\' OR 1=1--" → 401 and no SQL query runs', async () => {
    let queries = 0;
    const stop = onQuery((scope) => {
      // Not a timer's resync or poll (inBackground): the statements requests make.
      if (!scope?.background) queries += 1;
    });
    try {
      for (const k of ["x' OR 1=1--", "'; DROP TABLE users;--", "hs256' UNION SELECT 1--"]) {
        await expectRefused(ed, goodEd(claims(), edHeader({ kid: k })));
        await expectRefused(hs, craft(hsHeader({ kid: k }), claims(), hmacSigner('sha256', secret)));
      }
      expect(queries).toBe(0);
      // Control: the counter does see this server's queries.
      expect((await fetch(`${ed.url}/trpc/subscriptions.plans`)).status).toBe(200);
      expect(queries).toBeGreaterThan(0);
    } finally {
      stop();
    }
  });

  describe('remote key material is never fetched', () => {
    let outside: Server;
    let outsideUrl: string;
    let outsideHits = 0;
    const attackerJwk = { ...attacker.publicKey.export({ format: 'jwk' }), kid: 'attacker', alg: 'EdDSA' };
    beforeAll(async () => {
      // An "outside host" serving the attacker's JWKS: it must receive no request.
      outside = createServer((_req, res) => {
        outsideHits += 1;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [attackerJwk] }));
      });
      await new Promise<void>((resolve) => outside.listen(0, '127.0.0.1', resolve));
      outsideUrl = `http://127.0.0.1:${(outside.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((resolve) => outside.close(resolve));
    });

    /** Runs fn while recording every fetch the process makes to anything but the servers under test. */
    async function outboundDuring(fn: () => Promise<void>): Promise<string[]> {
      const real = globalThis.fetch;
      const seen: string[] = [];
      const spy = vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
        const url = input instanceof Request ? input.url : String(input);
        if (!url.startsWith(ed.url) && !url.startsWith(hs.url)) seen.push(url);
        return real(input, init);
      });
      try {
        await fn();
      } finally {
        spy.mockRestore();
      }
      return seen;
    }

    it('07 unknown kid → 401, no key refetch (twenty in parallel)', async () => {
      const outbound = await outboundDuring(async () => {
        const tokens = Array.from({ length: 20 }, () =>
          craft(edHeader({ kid: randomUUID() }), claims(), edSigner(attacker.privateKey)),
        );
        const results = await Promise.all(tokens.map((t) => callMe(ed, `Bearer ${t}`)));
        expect(results.map((r) => r.status)).toEqual(Array(20).fill(401));
        // A correctly signed token whose kid is unknown is refused too.
        await expectRefused(ed, goodEd(claims(), edHeader({ kid: 'rotated-away' })));
      });
      expect(outbound).toEqual([]);
      expect(outsideHits).toBe(0);
    });

    it('08 jku / x5u to an outside host → 401, no outbound fetch', async () => {
      const outbound = await outboundDuring(async () => {
        const signer = edSigner(attacker.privateKey);
        for (const extra of [
          { jku: `${outsideUrl}/jwks.json`, kid: 'attacker' },
          { x5u: `${outsideUrl}/cert.pem`, kid: 'attacker' },
          { jku: `${outsideUrl}/jwks.json`, kid },
        ]) {
          const token = craft(edHeader(extra), claims(), signer);
          await expectRefused(ed, token);
          await expectVerifyFails(ed, token);
        }
      });
      expect(outbound).toEqual([]);
      expect(outsideHits).toBe(0);
    });
  });

  it("09 embedded jwk header with the attacker's key → 401", async () => {
    const jwk = { ...attacker.publicKey.export({ format: 'jwk' }), alg: 'EdDSA' };
    const signer = edSigner(attacker.privateKey);
    for (const header of [
      edHeader({ jwk }),
      edHeader({ jwk, kid: undefined }),
      { alg: 'EdDSA', typ: 'at+jwt', jwk },
    ]) {
      const token = craft(header, claims(), signer);
      await expectRefused(ed, token);
      await expectVerifyFails(ed, token);
    }
  });

  it('10 payload changed to superadmin with the original signature → 401', async () => {
    const original = goodEd();
    await expectAccepted(ed, original);
    const [h, p, s] = original.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = {
      ...payload,
      role: 'superadmin',
      privilegeLevel: 100,
      permissions: ['users.manage', 'roles.assign'],
    };
    const tampered = `${h}.${b64url(JSON.stringify(forged))}.${s}`;
    await expectRefused(ed, tampered);
    await expectVerifyFails(ed, tampered);
    // Same for a token the server itself issued (the verified-token cache must not help).
    const issued = await ed.deps.tokens.sign(SAMPLE_SUBJECT, randomUUID());
    await expectAccepted(ed, issued.token);
    const [ih, ip, is] = issued.token.split('.');
    const ipayload = JSON.parse(Buffer.from(ip!, 'base64url').toString());
    await expectRefused(
      ed,
      `${ih}.${b64url(JSON.stringify({ ...ipayload, role: 'superadmin', privilegeLevel: 100 }))}.${is}`,
    );
  });

  it('11 exp missing → 401', async () => {
    const { exp: _exp, ...noExp } = claims();
    await expectRefused(ed, goodEd(noExp));
    await expectVerifyFails(ed, goodEd(noExp));
  });

  it('12 exp = now − 31 s → 401 (tolerance is 30 s)', async () => {
    const token = goodEd(claims({ iat: now() - 600, exp: now() - 31 }));
    await expectRefused(ed, token);
    await expectVerifyFails(ed, token);
  });

  it('13 exp as a string → 401', async () => {
    for (const exp of [String(now() + 600), 'never', null]) {
      const token = goodEd(claims({ exp }));
      await expectRefused(ed, token);
      await expectVerifyFails(ed, token);
    }
  });

  it('14 nbf = now + 5 min → 401', async () => {
    const token = goodEd(claims({ nbf: now() + 300 }));
    await expectRefused(ed, token);
    await expectVerifyFails(ed, token);
  });

  it('15 iat far in the future → 401', async () => {
    for (const iat of [now() + 3600, now() + 10 * 365 * 86_400]) {
      const token = goodEd(claims({ iat, exp: iat + 600 }));
      await expectRefused(ed, token);
      await expectVerifyFails(ed, token);
    }
  });

  it('16 wrong iss → 401', async () => {
    for (const iss of ['evil', 'MANAS360', '', ['manas360']]) {
      await expectRefused(ed, goodEd(claims({ iss })));
    }
    const { iss: _iss, ...noIss } = claims();
    await expectRefused(ed, goodEd(noIss));
  });

  it('17 aud of another service, or aud:[{}] → 401', async () => {
    for (const aud of ['other-service', ['other-service'], [{}], {}, '']) {
      const token = goodEd(claims({ aud }));
      await expectRefused(ed, token);
      await expectVerifyFails(ed, token);
    }
  });

  it('18 a token whose typ is not at+jwt (refresh, ID-style, none) → 401', async () => {
    for (const typ of ['refresh+jwt', 'JWT', 'id_token', undefined]) {
      const token = goodEd(claims(), edHeader({ typ }));
      await expectRefused(ed, token);
      await expectVerifyFails(ed, token);
    }
  });

  it('18b a real refresh token (opaque) as bearer → 401', async () => {
    const pair = await registerUser(ed, {
      email: 'bearer@example.com',
      password: 'a long enough password',
      name: 'B',
      acceptPrivacyNotice: NOTICE,
    });
    await expectAccepted(ed, pair.accessToken);
    await expectRefused(ed, pair.refreshToken);
  });

  it('19 an access token at the refresh endpoint → refused (400 by shape, 401 by value), nothing issued', async () => {
    const pair = await registerUser(ed, {
      email: 'refresh-endpoint@example.com',
      password: 'a long enough password',
      name: 'R',
      acceptPrivacyNotice: NOTICE,
    });
    const refreshWith = async (refreshToken: string) => {
      const res = await fetch(`${ed.url}/trpc/auth.refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: trpcInput({ refreshToken }),
      });
      const body = await res.text();
      expect(leaksInternals(body), body).toBe(false);
      // Refused means nothing issued.
      if (res.status !== 200) expect(body).not.toMatch(/"accessToken":/);
      return res.status;
    };
    // The whole JWT does not even have the shape of a refresh token (dots, > 128 chars).
    expect([400, 401]).toContain(await refreshWith(pair.accessToken));
    // Parts of it that do have the shape are unknown tokens.
    for (const part of pair.accessToken.split('.').filter((p) => p.length >= 20 && p.length <= 128))
      expect(await refreshWith(part)).toBe(401);
    // The real refresh token still works: nothing was consumed or revoked.
    expect(await refreshWith(pair.refreshToken)).toBe(200);
  });

  it('20 2-part / 4-part / empty "Bearer " / bad base64 → 401, no stack', async () => {
    const real = goodEd();
    const [h, p, s] = real.split('.');
    const malformed = [
      `${h}.${p}`,
      `${h}.${p}.${s}.${s}`,
      `${h}.${p}.${s}.`,
      '..',
      'a$b.c%d.e!f',
      `${b64url('not json')}.${p}.${s}`,
      `${h}.${b64url('[1,2')}.${s}`,
      `${h}.${b64url('"a string"')}.${s}`,
    ];
    for (const token of malformed) {
      await expectRefused(ed, token);
      await expectVerifyFails(ed, token);
    }
    for (const header of ['Bearer ', 'Bearer', 'Bearer  ', `Basic ${real}`, `Bearer ${real} extra`, real]) {
      await expectRefused(ed, '', header);
    }
  });

  it('21 20 KB Authorization header → 431, process still healthy', async () => {
    const huge = `Bearer ${'a'.repeat(20 * 1024)}`;
    const { status, body } = await callMe(ed, huge);
    expect(status).toBe(431);
    expect(leaksInternals(body)).toBe(false);
    // Just under the HTTP header limit, the token-size limit refuses before parsing.
    const big = `${goodEd()}.${'a'.repeat(9 * 1024)}`;
    await expectRefused(ed, big);
    await expect(ed.deps.tokens.verify(big)).rejects.toMatchObject({ why: 'too large' });
    expect((await fetch(`${ed.url}/healthz`)).status).toBe(200);
    await expectAccepted(ed, goodEd());
  });

  it('22 crit:["foo"] → 401', async () => {
    const token = goodEd(claims(), edHeader({ crit: ['foo'], foo: 'bar' }));
    await expectRefused(ed, token);
    await expectVerifyFails(ed, token);
    await expectRefused(ed, goodEd(claims(), edHeader({ crit: ['exp'] })));
  });

  it('30 an HS256 secret shorter than 32 bytes stops start-up', async () => {
    const short = 'x'.repeat(31);
    expect(() => loadConfig({ NODE_ENV: 'test', JWT_SECRET: short })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'test', JWT_SECRET: short })).toThrow(/JWT_SECRET/);
    expect(() => hmacKeyRing(short)).toThrow(/at least 32 bytes/);
    await expect(
      loadKeyRing({ JWT_SECRET: short, JWT_PRIVATE_KEYS: undefined, DATA_DIR: tmpdir(), NODE_ENV: 'test' }),
    ).rejects.toThrow(/at least 32 bytes/);
    // 32 bytes is enough.
    expect(() => hmacKeyRing('x'.repeat(32))).not.toThrow();
  });
});

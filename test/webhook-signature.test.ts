// The Razorpay webhook signature check (server/payments/razorpay.ts): every well-formed
// signature, right or wrong, is compared by crypto.timingSafeEqual over the 32 digest bytes
// (so how long a refusal takes says nothing about how many leading bytes were right), and
// only Razorpay's spelling (64 lower-case hex digits) is accepted. node:crypto is watched,
// in this file only, to see the compare happen.
import { describe, expect, it, vi } from 'vitest';

const compares = vi.hoisted(() => [] as Array<[Buffer, Buffer]>);
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compares.push([Buffer.from(a as Uint8Array), Buffer.from(b as Uint8Array)]);
      return actual.timingSafeEqual(a, b);
    },
  };
});

const { verifyWebhookSignature, webhookSignature } = await import('../server/payments/razorpay.ts');

const SECRET = 'webhook secret';
const body = Buffer.from('{"event":"payment.captured"}');
const right = webhookSignature(body, SECRET);

describe('verifyWebhookSignature', () => {
  it('compares in constant time: a wrong signature of the right form goes through timingSafeEqual too', () => {
    const wrongFirst = (right[0] === '0' ? '1' : '0') + right.slice(1);
    const wrongLast = right.slice(0, -1) + (right.endsWith('0') ? '1' : '0');
    compares.length = 0;
    expect(verifyWebhookSignature(body, right, SECRET)).toBe(true);
    expect(verifyWebhookSignature(body, wrongFirst, SECRET)).toBe(false);
    expect(verifyWebhookSignature(body, wrongLast, SECRET)).toBe(false);
    expect(compares).toHaveLength(3);
    for (const [a, b] of compares) {
      expect(a.length).toBe(32);
      expect(b.length).toBe(32);
    }
    expect(compares[1]![1].toString('hex')).toBe(wrongFirst);
  });

  it('accepts only 64 lower-case hex digits (the same bytes spelt in upper case are refused)', () => {
    expect(/[a-f]/.test(right)).toBe(true);
    compares.length = 0;
    for (const bad of [right.toUpperCase(), `${right}0`, right.slice(1), `${right.slice(0, -1)}g`, '', 42])
      expect(verifyWebhookSignature(body, bad, SECRET)).toBe(false);
    // Refused by form, before any compare.
    expect(compares).toHaveLength(0);
  });
});

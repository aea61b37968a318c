// Each request's logger (server/logging.ts requestChildLogger) writes what a pino child with
// { reqId } wrote — the id after pid and hostname, every line redacted — without pino's
// child() at every request.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../server/create-services.ts';
import { requestChildLogger } from '../server/logging.ts';

function capture() {
  const lines: string[] = [];
  const log = createLogger({ LOG_LEVEL: 'info' }, { write: (line) => lines.push(line) });
  return { lines, log };
}
const withoutTime = (line: string) => line.replace(/"time":\d+,/, '');

describe('per-request logger', () => {
  it('writes the same line as pino child({ reqId })', () => {
    const { lines, log } = capture();
    requestChildLogger(log, { reqId: 'r-1' }, {}).info({ path: '/trpc/auth.me', statusCode: 200 }, 'request');
    log.child({ reqId: 'r-1' }).info({ path: '/trpc/auth.me', statusCode: 200 }, 'request');
    expect(lines).toHaveLength(2);
    expect(withoutTime(lines[0]!)).toBe(withoutTime(lines[1]!));
    expect(lines[0]).toMatch(/"hostname":"[^"]*","reqId":"r-1","path":"\/trpc\/auth.me"/);
  });

  it('redacts its lines and passes the id on to its own children', () => {
    const { lines, log } = capture();
    const child = requestChildLogger(log, { reqId: 'r-2' }, {});
    child.warn({ input: { password: 'hunter2' }, token: 'secret-token' }, 'odd');
    child.child({ plugin: 'x' }).error('failed');
    expect(lines.join('')).not.toMatch(/hunter2|secret-token/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ reqId: 'r-2', token: '[redacted]' });
    expect(JSON.parse(lines[1]!)).toMatchObject({ reqId: 'r-2', plugin: 'x', msg: 'failed' });
  });

  it('the server logger itself writes no reqId; nothing is written below the level', () => {
    const { lines, log } = capture();
    log.info('start');
    requestChildLogger(log, { reqId: 'r-3' }, {}).debug('hidden');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).not.toHaveProperty('reqId');
  });

  it("uses pino's child() for options, other bindings or another logger", () => {
    const { lines, log } = capture();
    requestChildLogger(log, { reqId: 'r-4' }, { level: 'warn' }).info('hidden');
    requestChildLogger(log, { reqId: 'r-5', extra: 1 }, {}).info('shown');
    const other: string[] = [];
    const plain = pino({ level: 'info' }, { write: (line: string) => other.push(line) });
    requestChildLogger(plain, { reqId: 'r-6' }, {}).info('plain');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ reqId: 'r-5', extra: 1 });
    expect(JSON.parse(other[0]!)).toMatchObject({ reqId: 'r-6', msg: 'plain' });
  });
});

// /metrics as Prometheus' own linter reads it: `promtool check metrics` (Debian's prometheus
// package; PROMTOOL names another binary) finds nothing to complain about, and — with or
// without promtool — the exposition follows the naming rules promtool checks: counters end
// in _total and nothing else does, snake_case names, base units, a HELP line for each.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PoolGate } from '../db/client.ts';
import { createMetrics } from '../server/metrics.ts';
import type { ProcedureReport } from '../server/trpc/hooks.ts';

const PROMTOOL =
  process.env.PROMTOOL ?? ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

/** The text a scrape returns, with a sample in every labelled metric. */
async function exposition(): Promise<string> {
  const metrics = createMetrics({
    pools: [new PoolGate('primary', 10, 100)],
    revocationEntries: () => 3,
    replicas: () => [],
  });
  metrics.procedure({ path: 'auth.me', code: 'OK', durationMs: 2, queries: 0 } as ProcedureReport);
  metrics.job('refresh_views', 'ran', 0.5);
  metrics.viewRefresh([{ name: 'mv_daily_mood', ms: 120, rows: 42, repaired: 0 }]);
  metrics.replicaFallback('unhealthy');
  return metrics.registry.metrics();
}

/** What promtool's lint says about names and types (the rules it checks, in words). */
function namingProblems(text: string): string[] {
  const problems: string[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const help = /^# HELP (\S+) \S/.exec(line);
    if (help) helps.add(help[1]!);
  }
  for (const [name, type] of types) {
    if (!/^[a-z_:][a-z0-9_:]*$/.test(name)) problems.push(`${name}: not snake_case`);
    if (type === 'counter' && !name.endsWith('_total')) problems.push(`${name}: a counter without _total`);
    if (type !== 'counter' && /_total$/.test(name)) problems.push(`${name}: a ${type} named like a counter`);
    if (/_(count|sum|bucket)$/.test(name)) problems.push(`${name}: a reserved suffix`);
    if (/(milliseconds|microseconds|_ms|_kb|_mb|_minutes|_hours)(_|$)/.test(name))
      problems.push(`${name}: not in base units`);
    if (!helps.has(name)) problems.push(`${name}: no HELP`);
  }
  return problems;
}

describe('the /metrics exposition', () => {
  it('breaks none of the naming rules (counters alone end in _total)', async () => {
    const text = await exposition();
    expect(text).toContain('# TYPE nodejs_active_handles gauge');
    expect(namingProblems(text)).toEqual([]);
  });

  it('the rules above catch what prom-client names by default', () => {
    const defaults = '# HELP nodejs_active_handles_total Total.\n# TYPE nodejs_active_handles_total gauge\n';
    expect(namingProblems(defaults)).toEqual(['nodejs_active_handles_total: a gauge named like a counter']);
  });

  it.skipIf(!PROMTOOL)('passes promtool check metrics', async () => {
    const run = spawnSync(PROMTOOL!, ['check', 'metrics'], { input: await exposition(), encoding: 'utf8' });
    expect(`${run.stdout}${run.stderr}`.trim()).toBe('');
    expect(run.status).toBe(0);
  });
});
if (!PROMTOOL)
  console.log(
    '[metrics-names.test] promtool not found (apt-get install prometheus, or set PROMTOOL): naming rules checked by this test only',
  );

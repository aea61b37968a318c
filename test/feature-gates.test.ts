// Every plan sells something: each feature of the catalog gates at least one procedure.
import { describe, expect, it } from 'vitest';
import { appRouter } from '../server/routers/index.ts';
import type { Meta } from '../server/trpc/init.ts';
import { FEATURES } from '../shared/catalog.ts';

const procedures = Object.entries(
  appRouter._def.procedures as unknown as Record<string, { _def: { meta?: Meta } }>,
);

describe('the catalog gates procedures', () => {
  it('every feature gates at least one procedure', () => {
    const gated = new Set(procedures.map(([, p]) => p._def.meta?.feature).filter(Boolean));
    expect(FEATURES.filter((f) => !gated.has(f))).toEqual([]);
  });

  it('names the gates of the paid features', () => {
    const byFeature = (feature: string) =>
      procedures
        .filter(([, p]) => p._def.meta?.feature === feature)
        .map(([path]) => path)
        .sort();
    expect(byFeature('data_export')).toEqual(['export.mine']);
    expect(byFeature('premium_dashboard')).toEqual([
      'insights.assessments',
      'insights.moodTrend',
      'insights.streaks',
      'insights.tags',
    ]);
    expect(byFeature('priority_support')).toEqual(['support.escalate']);
    expect(byFeature('api_access')).toEqual(['apiKeys.create', 'apiKeys.list', 'apiKeys.revoke']);
    expect(byFeature('advanced_reporting')).toEqual([
      'reports.assessments',
      'reports.mood',
      'reports.sessions',
    ]);
  });
});

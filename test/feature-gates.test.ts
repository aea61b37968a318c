// Every plan sells something: each feature of the catalog gates at least one procedure.
import { describe, expect, it } from 'vitest';
import { appRouter } from '../server/routers/index.ts';
import { procedures as proceduresOf } from '../server/trpc/invoke.ts';
import { FEATURES } from '../shared/catalog.ts';

const procedures = proceduresOf(appRouter);

describe('the catalog gates procedures', () => {
  it('every feature gates at least one procedure', () => {
    const gated = new Set(procedures.map((p) => p.meta?.feature).filter(Boolean));
    expect(FEATURES.filter((f) => !gated.has(f))).toEqual([]);
  });

  it('names the gates of the paid features', () => {
    const byFeature = (feature: string) =>
      procedures
        .filter((p) => p.meta?.feature === feature)
        .map((p) => p.path)
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

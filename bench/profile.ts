// Top self-time functions of a V8 .cpuprofile (node --cpu-prof): where a path's CPU goes,
// as a share of the samples in which the thread was busy.
export interface ProfileEntry {
  fn: string;
  where: string;
  selfPercent: number;
}

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
  }>;
}

export function topSelfTime(profile: CpuProfile, n: number): ProfileEntry[] {
  const byFn = new Map<string, { fn: string; where: string; hits: number }>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    // Percent of busy time: idle samples say only that the core waited (for I/O or load).
    if (functionName === '(idle)') continue;
    total += hits;
    const where = url
      ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(server|db|bench)\//, '$1/')}:${lineNumber + 1}`
      : '';
    const key = `${functionName}@${where}`;
    const e = byFn.get(key) ?? { fn: functionName || '(anonymous)', where, hits: 0 };
    e.hits += hits;
    byFn.set(key, e);
  }
  return [...byFn.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, n)
    .map((e) => ({ fn: e.fn, where: e.where, selfPercent: total ? (100 * e.hits) / total : 0 }));
}

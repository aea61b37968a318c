// The CPU time PostgreSQL spends for the bench: the backends serving one database, read
// from /proc (user + system ticks of each `postgres: <user> <db> ...` process). Works when
// PostgreSQL runs on this machine (the bench's case); elsewhere it reports nothing.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second (sysconf(_SC_CLK_TCK)); 100 on Linux unless `getconf` says otherwise. */
const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export type BackendCpu = Map<number, number>;

/** CPU µs so far of every backend process connected to `database` (pid → µs). */
export function backendCpu(database: string): BackendCpu {
  const out: BackendCpu = new Map();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      // A backend's title: "postgres: 15/main: postgres manas360_bench 127.0.0.1(41234) idle".
      if (!cmd.startsWith('postgres: ') || !cmd.includes(` ${database} `)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which is in parentheses and may hold spaces).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
      out.set(Number(pid), (ticks * 1_000_000) / TICKS);
    } catch {
      // The process ended while we read it.
    }
  }
  return out;
}

/** CPU µs the backends used between two readings (backends that ended in between are lost). */
export function backendCpuDelta(before: BackendCpu, after: BackendCpu): number {
  let us = 0;
  for (const [pid, t] of after) us += t - (before.get(pid) ?? 0);
  return us;
}

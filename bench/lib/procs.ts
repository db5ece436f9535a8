// Processes of the benches, read from /proc (Linux): the CPU time a process has used, and the pids of
// servers a helper spawned (so that their CPU is counted with ours).
import { readdirSync, readFileSync } from 'node:fs';

const USER_HZ = 100;

/** /proc/<pid>/stat, or undefined once the process is gone. */
function readStat(pid: number | string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}

/** CPU time (user + system, every thread, ms) a process has used so far; undefined once it is gone. */
export function cpuMs(pid: number): number | undefined {
  const stat = readStat(pid);
  if (stat === undefined) return undefined;
  // Fields after "(comm) ": state ppid … utime (14th field of the line) stime (15th).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
}

/** The pids of this process's children whose command name is `comm` (e.g. the mosquitto that startMosquitto spawned). */
export function childPids(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    if (stat === undefined) continue; // the process ended while the list was read
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (name === comm && ppid === process.pid) pids.push(Number(entry));
  }
  return pids;
}

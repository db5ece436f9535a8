// Machine-readable bench results: each bench prints one line per goal, `BENCH_RESULT {json}`, which
// bench/run.ts collects from the children's stdout into the summary table and bench/results.json.

/** One goal of issue #17, measured (one entry per goal and broker). */
export interface BenchResult {
  /** e.g. `P1-reliable-consume-mosquitto`. */
  readonly id: string;
  /** `measured / baseline` (for an absolute goal: the measured value over the goal's value). */
  readonly ratio: number;
  /** What the ratio must be, e.g. `>= 0.8` or `<= 1`. */
  readonly goal: string;
  readonly met: boolean;
  readonly measured: number;
  /** The same-run baseline (or the goal's absolute value). */
  readonly baseline: number;
  /** Units and conditions, e.g. `flows/s at p99 <= 250 ms, 2 cores`. */
  readonly detail?: string;
}

export const RESULT_PREFIX = 'BENCH_RESULT ';

/** Whether `ratio` meets `goal` (`>= x` or `<= x`). */
export function meets(ratio: number, goal: string): boolean {
  const m = /^(>=|<=)\s*(-?[0-9.]+)$/.exec(goal.trim());
  if (!m) throw new Error(`goal must read ">= x" or "<= x", got ${JSON.stringify(goal)}`);
  return m[1] === '>=' ? ratio >= Number(m[2]) : ratio <= Number(m[2]);
}

/** Prints one result line (stdout). `met` is computed from ratio and goal unless given (e.g. an incomplete run never meets). */
export function reportResult(r: Omit<BenchResult, 'met'> & { readonly met?: boolean }): void {
  const met = (r.met ?? true) && Number.isFinite(r.ratio) && meets(r.ratio, r.goal);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const out: BenchResult = { ...r, ratio: round(r.ratio), measured: round(r.measured), baseline: round(r.baseline), met };
  console.log(`${RESULT_PREFIX}${JSON.stringify(out)}`);
}

// The runner's side of BENCH_RESULT lines: picks them out of a child's stdout and prints the table.
import type { BenchResult } from './report.js';
import { RESULT_PREFIX } from './report.js';

function isResult(v: unknown): v is BenchResult {
  const r = v as Partial<BenchResult> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.id === 'string' &&
    typeof r.ratio === 'number' &&
    typeof r.met === 'boolean' &&
    r.goal !== undefined
  );
}

/**
 * Splits stdout chunks into lines, hands every line to `echo` as it completes, and keeps the valid
 * `BENCH_RESULT ` ones (a malformed one is echoed with a warning, not kept). `end` flushes the last line.
 */
export function collectResults(echo: (line: string) => void): { push(chunk: string): void; end(): BenchResult[] } {
  const results: BenchResult[] = [];
  let partial = '';
  const line = (l: string): void => {
    echo(l);
    if (!l.startsWith(RESULT_PREFIX)) return;
    let v: unknown;
    try {
      v = JSON.parse(l.slice(RESULT_PREFIX.length));
    } catch (err) {
      v = err;
    }
    if (isResult(v)) results.push(v);
    else echo('  (not a valid BENCH_RESULT line: needs JSON with id, ratio, goal, met)');
  };
  return {
    push(chunk) {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) line(l);
    },
    end() {
      if (partial !== '') line(partial);
      partial = '';
      return results;
    },
  };
}

/** A measured value or baseline for the table (another bench may give a string, e.g. with units). */
function num(x: unknown): string {
  if (typeof x === 'number') return Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en') : String(Math.round(x * 100) / 100);
  return typeof x === 'string' ? x : '';
}

/** One row per result: id, measured, baseline, ratio, goal, met, detail. */
export function summaryTable(results: readonly BenchResult[]): string {
  if (results.length === 0) return '(no BENCH_RESULT lines)';
  const head = ['goal id', 'measured', 'baseline', 'ratio', 'goal', 'met', 'detail'];
  const rows = results.map((r) => [
    r.id,
    num(r.measured),
    num(r.baseline),
    r.ratio.toFixed(2),
    String(r.goal),
    r.met ? 'yes' : 'NO',
    r.detail ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: readonly string[]) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n');
}

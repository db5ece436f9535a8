import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { meets } from './report.js';
import { collectResults, summaryTable } from './summary.js';

describe('bench result lines', () => {
  test('result lines are collected across chunk boundaries; every line is echoed; bad ones are not kept', () => {
    const echoed: string[] = [];
    const c = collectResults((l) => echoed.push(l));
    const line = `BENCH_RESULT ${JSON.stringify({ id: 'P6-x', ratio: 0.7, goal: '>= 0.5', met: true, measured: 7, baseline: 10 })}`;
    c.push(`hello\n${line.slice(0, 20)}`);
    c.push(`${line.slice(20)}\nBENCH_RESULT {broken\nBENCH_RESULT {"id":"x"}\ntail`);
    const results = c.end();
    assert.deepEqual(
      results.map((r) => r.id),
      ['P6-x'],
    );
    assert.equal(echoed[0], 'hello');
    assert.equal(echoed[1], line);
    assert.equal(echoed.filter((l) => l.includes('not a valid BENCH_RESULT')).length, 2);
    assert.equal(echoed.at(-1), 'tail');
    const table = summaryTable(results);
    assert.match(table, /P6-x\s+7\s+10\s+0\.70\s+>= 0\.5\s+yes/);
    assert.equal(summaryTable([]), '(no BENCH_RESULT lines)');
  });

  test('goals read ">= x" or "<= x"', () => {
    assert.equal(meets(0.8, '>= 0.8'), true);
    assert.equal(meets(0.79, '>= 0.8'), false);
    assert.equal(meets(1.2, '<= 1'), false);
    assert.throws(() => meets(1, 'at least 1'), /goal must read/);
  });
});

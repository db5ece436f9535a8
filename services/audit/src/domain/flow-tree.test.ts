import { test } from 'node:test';
import assert from 'node:assert/strict';
import { causalOrder, flowTree } from './flow-tree.js';

const ev = (seq: number, eventId: string, causationId: string, occurredAt: string) => ({ seq, eventId, causationId, occurredAt });

test('given a flow recorded out of order, the tree puts parents before children and siblings by time, then seq', () => {
  const events = [
    ev(4, 'confirmed', 'paid', '2027-01-01T10:00:03.000Z'),
    ev(1, 'reserved', 'cmd-1', '2027-01-01T10:00:00.000Z'),
    ev(3, 'paid', 'initiated', '2027-01-01T10:00:02.5Z'),
    ev(2, 'initiated', 'reserved', '2027-01-01T10:00:01.000Z'),
    ev(6, 'sibling-b', 'reserved', '2027-01-01T10:00:01.000Z'),
    ev(5, 'sibling-a', 'reserved', '2027-01-01T10:00:00.999999Z'),
  ];
  const forest = flowTree(events);
  assert.equal(forest.length, 1, 'a command id is no event of the flow: the first event is the root');
  assert.deepEqual(
    causalOrder(forest).map((n) => [n.event.eventId, n.depth]),
    [
      ['reserved', 0],
      ['sibling-a', 1],
      ['initiated', 1],
      ['paid', 2],
      ['confirmed', 3],
      ['sibling-b', 1],
    ],
  );
});

test('self-caused roots, unknown causes and hostile cycles all come out once, never loop', () => {
  const forest = flowTree([
    ev(1, 'a', 'a', '2027-01-01T10:00:00Z'),
    ev(2, 'x', 'y', '2027-01-01T10:00:01Z'),
    ev(3, 'y', 'x', '2027-01-01T10:00:02Z'),
    ev(4, 'lost', 'not-in-flow', '2027-01-01T09:00:00Z'),
    ev(5, 'a', 'a', '2027-01-01T10:00:00Z'),
  ]);
  const order = causalOrder(forest).map((n) => n.event.eventId);
  assert.deepEqual([...order].sort(), ['a', 'lost', 'x', 'y']);
  assert.equal(order[0], 'lost', 'roots by time');
  assert.deepEqual(flowTree([]), []);
});

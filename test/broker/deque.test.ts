import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Deque, type DequeSnapshot } from '../../src/broker/deque.js';

type Op =
  | { k: 'pushBack'; v: number }
  | { k: 'pushFront'; v: number }
  | { k: 'popFront' }
  | { k: 'popBack' }
  | { k: 'snapshot' }
  | { k: 'release' }
  | { k: 'clear' }
  | { k: 'moveTail'; n: number }
  | { k: 'burst'; n: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('pushBack' as const), v: fc.integer() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('pushFront' as const), v: fc.integer() }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('popFront' as const) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('popBack' as const) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('moveTail' as const), n: fc.nat(40) }) },
  // Enough pushes or pops to cross the deque's 1,024-item blocks.
  { weight: 1, arbitrary: fc.record({ k: fc.constant('burst' as const), n: fc.integer({ min: -1500, max: 1500 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('snapshot' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('release' as const) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'clear' as const }) },
);

function items<T>(s: DequeSnapshot<T>): T[] {
  const out: T[] = [];
  for (let i = 0; i < s.length; i++) out.push(s.at(i));
  return out;
}

describe("Deque (the queues' block list)", () => {
  it('behaves like an array under any mix of operations, across blocks, and its snapshots keep what it held then', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const d = new Deque<number>();
        const other = new Deque<number>();
        const model: number[] = [];
        const otherModel: number[] = [];
        const snaps: { snap: DequeSnapshot<number>; expected: number[] }[] = [];
        let next = 0;
        for (const o of ops) {
          if (o.k === 'pushBack') (d.pushBack(o.v), model.push(o.v));
          else if (o.k === 'pushFront') (d.pushFront(o.v), model.unshift(o.v));
          else if (o.k === 'popFront') expect(d.popFront()).toBe(model.shift());
          else if (o.k === 'popBack') expect(d.popBack()).toBe(model.pop());
          else if (o.k === 'clear') (d.clear(), model.splice(0));
          else if (o.k === 'snapshot') snaps.push({ snap: d.snapshot(), expected: [...model] });
          else if (o.k === 'release') snaps.shift()?.snap.release();
          else if (o.k === 'burst') {
            for (let i = 0; i < o.n; i++) (d.pushBack(next), model.push(next++));
            for (let i = 0; i < -o.n; i++) expect(d.popFront()).toBe(model.shift());
          } else {
            d.moveTailTo(other, o.n);
            otherModel.push(...model.splice(Math.max(0, model.length - o.n)));
          }
          expect(d.length).toBe(model.length);
          for (const { snap, expected } of snaps) expect(snap.length).toBe(expected.length);
        }
        expect(d.toArray()).toEqual(model);
        expect(other.toArray()).toEqual(otherModel);
        expect(d.peekFront()).toBe(model[0]);
        for (let i = 0; i < model.length; i++) expect(d.at(i)).toBe(model[i]);
        for (const { snap, expected } of snaps) expect(items(snap)).toEqual(expected);
      }),
      { numRuns: 400 },
    );
  });

  it('writes in place again once every snapshot is released', () => {
    const d = new Deque<number>();
    for (let i = 0; i < 3000; i++) d.pushBack(i);
    const a = d.snapshot();
    const b = d.snapshot();
    for (let i = 0; i < 2000; i++) d.popFront();
    d.pushFront(-1);
    a.release();
    a.release(); // idempotent: b still holds the blocks
    for (let i = 0; i < 500; i++) d.pushBack(3000 + i);
    expect(items(b)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    b.release();
    d.pushFront(-2);
    expect(d.toArray()).toEqual([-2, -1, ...Array.from({ length: 1500 }, (_, i) => 2000 + i)]);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Deque } from '../../src/broker/deque.js';

describe('Deque (the queues\' ring buffer)', () => {
  it('behaves like an array under any mix of operations, across wrap-around and growth', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('pushBack' as const), v: fc.integer() }),
      fc.record({ k: fc.constant('pushFront' as const), v: fc.integer() }),
      fc.record({ k: fc.constant('popFront' as const) }),
      fc.record({ k: fc.constant('popBack' as const) }),
      fc.record({ k: fc.constant('moveTail' as const), n: fc.nat(40) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const d = new Deque<number>(4);
        const other = new Deque<number>();
        const model: number[] = [];
        const otherModel: number[] = [];
        for (const o of ops) {
          if (o.k === 'pushBack') (d.pushBack(o.v), model.push(o.v));
          else if (o.k === 'pushFront') (d.pushFront(o.v), model.unshift(o.v));
          else if (o.k === 'popFront') expect(d.popFront()).toBe(model.shift());
          else if (o.k === 'popBack') expect(d.popBack()).toBe(model.pop());
          else {
            d.moveTailTo(other, o.n);
            otherModel.push(...model.splice(Math.max(0, model.length - o.n)));
          }
          expect(d.length).toBe(model.length);
        }
        expect(d.toArray()).toEqual(model);
        expect(other.toArray()).toEqual(otherModel);
        expect(d.peekFront()).toBe(model[0]);
        for (let i = 0; i < model.length; i++) expect(d.at(i)).toBe(model[i]);
      }),
      { numRuns: 300 },
    );
  });
});

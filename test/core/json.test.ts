import { expect, it } from 'vitest';
import { sameJson, shown } from '../../src/core/json.js';
it('shown', () => {
  for (const v of [1, 'x', null, true, [1, [2, {}]], { a: 1, b: [null, undefined, 'x'], c: undefined, d: { e: {} } }, [], {}, 'a"b\n', [undefined, () => 1], NaN]) {
    expect(shown(v)).toBe(JSON.stringify(v));
  }
  expect(shown(undefined)).toBe('undefined');
  const long = 'x'.repeat(300);
  expect(shown(long)).toBe(JSON.stringify(long).slice(0, 100) + '…');
  expect(shown([long])).toBe(JSON.stringify([long]).slice(0, 100) + '…');
  let deep: unknown = 1;
  for (let i = 0; i < 100000; i++) deep = [deep];
  expect(shown(deep)).toBe('['.repeat(100) + '…');
  expect(shown({ a: 1 }, 3)).toBe('{"a…');
  expect(sameJson({ a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1 })).toBe(true);
  expect(sameJson({ a: 1, b: undefined }, { a: 1 })).toBe(true);
  expect(sameJson([1, 2], [2, 1])).toBe(false);
  expect(sameJson([1], { 0: 1 })).toBe(false);
  expect(sameJson({ a: 1 }, { a: 1, b: 2 })).toBe(false);
  expect(sameJson({ a: 1, c: 2 }, { a: 1, b: 2 })).toBe(false);
  expect(sameJson('1', 1)).toBe(false);
  expect(sameJson(null, {})).toBe(false);
  expect(sameJson([undefined], [null])).toBe(true);
  let deep2: unknown = 1;
  for (let i = 0; i < 100000; i++) deep2 = [deep2];
  expect(sameJson(deep, deep2)).toBe(true);
});

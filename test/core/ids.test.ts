/** Resource and event ids: UUIDv7 (RFC 9562), in the order they were made even within one millisecond. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { timeOrderedId } from '../../src/core/resource/ids.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const timeOf = (id: string) => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

afterEach(() => vi.restoreAllMocks());

describe('timeOrderedId', () => {
  it('is a UUIDv7 whose first 48 bits are the time in milliseconds', () => {
    vi.spyOn(Date, 'now').mockReturnValue(Date.UTC(2030, 0, 1)); // later than any id made before in this process
    const id = timeOrderedId();
    expect(id).toMatch(V7);
    expect(timeOf(id)).toBe(Date.UTC(2030, 0, 1));
  });

  it('ids of one millisecond, past the 4,096 its counter holds, and after the clock goes back, still ascend and differ', () => {
    const now = vi.spyOn(Date, 'now').mockReturnValue(Date.UTC(2031, 0, 1));
    const ids = Array.from({ length: 5000 }, () => timeOrderedId());
    now.mockReturnValue(Date.UTC(2031, 0, 1) - 60_000);
    ids.push(timeOrderedId(), timeOrderedId());
    for (const id of ids) expect(id).toMatch(V7);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(timeOf(ids[4095]!)).toBe(Date.UTC(2031, 0, 1));
    expect(timeOf(ids[4096]!)).toBe(Date.UTC(2031, 0, 1) + 1);
  });
});

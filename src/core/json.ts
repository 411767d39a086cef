/**
 * JSON values as the core meets them in requests. Nothing here recurses: a request value may nest as deep as its
 * sender likes (a library caller's body has not been through the HTTP handler's bound), and a recursion over one
 * 10,000 levels deep ends in `RangeError: Maximum call stack size exceeded`, a 500 for what is the client's fault.
 */

/**
 * The deepest nesting of arrays and objects a request may have. SCIM resources are shallow: a complex attribute's
 * sub-attributes cannot be complex (RFC 7643 §2.4), so a resource nests three levels (`{"emails": [{"value": …}]}`,
 * `{"urn:…:enterprise:2.0:User": {"manager": {…}}}`) and a Bulk request carrying a PATCH about ten. 64 leaves ample
 * room for any valid request, and is far below the depth at which a recursive walk runs out of stack (some thousands).
 */
export const MAX_DEPTH = 64;

/**
 * A value for an error message: its JSON, cut after `max` characters (and marked so with '…'). It stops writing when
 * it has written enough, so neither a value nested 10,000 deep nor one of a megabyte costs more than the part shown.
 */
export function shown(value: unknown, max = 100): string {
  let out = '';
  if (typeof value !== 'object' || value === null) {
    out = scalar(value, max) ?? 'undefined';
    return out.length > max ? `${out.slice(0, max)}…` : out;
  }
  // what is left to write: each frame an open array or object, with the members not yet written
  const frames: { readonly close: string; readonly keyed: boolean; readonly members: Iterator<[string, unknown]>; first: boolean }[] = [];
  const open = (v: object) => {
    const keyed = !Array.isArray(v);
    out += keyed ? '{' : '[';
    frames.push({ close: keyed ? '}' : ']', keyed, members: membersOf(v), first: true });
  };
  open(value);
  while (frames.length > 0 && out.length <= max) {
    const frame = frames[frames.length - 1]!;
    const next = frame.members.next();
    if (next.done) {
      out += frame.close;
      frames.pop();
      continue;
    }
    const [key, v] = next.value;
    const text = typeof v === 'object' && v !== null ? undefined : scalar(v, max);
    // JSON.stringify leaves out members without a JSON value and writes null for such elements
    if (frame.keyed && text === undefined && (typeof v !== 'object' || v === null)) continue;
    out += (frame.first ? '' : ',') + (frame.keyed ? `${JSON.stringify(key.length > max ? key.slice(0, max) : key)}:` : '');
    frame.first = false;
    if (typeof v === 'object' && v !== null) open(v);
    else out += text ?? 'null';
  }
  return out.length > max || frames.length > 0 ? `${out.slice(0, max)}…` : out;
}

/** An array's elements or an object's own members, one at a time (a value of a million members is not copied). */
function* membersOf(v: object): Generator<[string, unknown]> {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) yield ['', v[i]];
    return;
  }
  for (const k in v) if (Object.hasOwn(v, k)) yield [k, (v as Record<string, unknown>)[k]];
}

/** A JSON scalar as JSON.stringify writes it (undefined for a value JSON has not), a long string cut. */
function scalar(value: unknown, max: number): string | undefined {
  if (typeof value === 'string') return JSON.stringify(value.length > max ? value.slice(0, max) : value);
  if (typeof value === 'bigint') return String(value);
  return JSON.stringify(value) as string | undefined;
}

/** A value as JSON compares it: non-finite numbers are null; undefined, functions and symbols are nothing. */
function jsonScalar(v: unknown): unknown {
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  return v === undefined || typeof v === 'function' || typeof v === 'symbol' ? undefined : v;
}

/** The members of an object that JSON writes: those with a value. */
function jsonKeys(o: object): string[] {
  return Object.keys(o).filter((k) => jsonScalar((o as Record<string, unknown>)[k]) !== undefined);
}

/**
 * Whether two values have the same JSON whatever order their object members came in (an array's order counts),
 * compared without recursion.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return a === b;
  const stack: [unknown, unknown][] = [[a, b]];
  while (stack.length > 0) {
    const [x, y] = stack.pop()!;
    if (x === y) continue;
    const xObject = typeof x === 'object' && x !== null;
    const yObject = typeof y === 'object' && y !== null;
    if (!xObject || !yObject) {
      // in an array, a member without a JSON value is written null
      if (xObject || yObject || (jsonScalar(x) ?? null) !== (jsonScalar(y) ?? null)) return false;
      continue;
    }
    if (Array.isArray(x) !== Array.isArray(y)) return false;
    if (Array.isArray(x)) {
      const ys = y as unknown[];
      if (x.length !== ys.length) return false;
      for (let i = 0; i < x.length; i++) stack.push([x[i], ys[i]]);
      continue;
    }
    const xs = x as Record<string, unknown>;
    const ys = y as Record<string, unknown>;
    const keys = jsonKeys(xs);
    if (keys.length !== jsonKeys(ys).length) return false;
    for (const k of keys) {
      if (!Object.hasOwn(ys, k) || jsonScalar(ys[k]) === undefined) return false;
      stack.push([xs[k], ys[k]]);
    }
  }
  return true;
}

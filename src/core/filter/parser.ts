/**
 * Parses the SCIM filter grammar (RFC 7644 §3.4.2.2, ABNF in Figure 1): precedence not > and > or, parentheses,
 * value paths `attr[filter]`, JSON string escapes, true/false/null and numbers. Keywords and operators are
 * case-insensitive (ABNF literals are). Errors are 400 invalidFilter with the position and what was expected.
 */
import { scimErrors } from '../errors.js';
import { COMPARE_OPERATORS, type AttributePath, type CompareOperator, type Filter, type FilterValue } from './ast.js';

/** Guards against hostile input: a filter is a short expression, not a document. */
export const MAX_FILTER_LENGTH = 8192;
export const MAX_FILTER_DEPTH = 32;

type Token =
  | { readonly kind: '(' | ')' | '[' | ']'; readonly position: number }
  | { readonly kind: 'word'; readonly text: string; readonly position: number }
  | { readonly kind: 'string'; readonly value: string; readonly position: number }
  | { readonly kind: 'end'; readonly position: number };

function fail(position: number, message: string): never {
  throw scimErrors.invalidFilter(`Invalid filter at position ${position}: ${message}.`);
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'end':
      return 'the end of the filter';
    case 'word':
      return `"${t.text}"`;
    case 'string':
      return `the string ${JSON.stringify(t.value)}`;
    default:
      return `"${t.kind}"`;
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === '[' || c === ']') {
      tokens.push({ kind: c, position: i + 1 });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) fail(i + 1, 'the string is not closed with a double quote');
      let value: unknown;
      try {
        value = JSON.parse(text.slice(i, j + 1));
      } catch {
        fail(i + 1, 'the string has an invalid escape sequence (strings follow JSON, RFC 7159)');
      }
      tokens.push({ kind: 'string', value: value as string, position: i + 1 });
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !/[\s()[\]"]/.test(text[j]!)) j++;
      tokens.push({ kind: 'word', text: text.slice(i, j), position: i + 1 });
      i = j;
    }
  }
  tokens.push({ kind: 'end', position: text.length + 1 });
  return tokens;
}

/**
 * Quotes that are not a SCIM string's: the apostrophe (SQL and LDAP habits), the backtick, and the typographic quotes
 * a filter copied from a document brings. A bareword is only tolerated as a string when it cannot be meant as one of
 * these: read as a bareword, `'bjensen'` matches nobody, silently.
 */
const FOREIGN_QUOTES = /^['`\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00b4]/;

const ATTRIBUTE_PATH = /^(?:urn:[^\s[\]()"]+:)?[A-Za-z$][\w$-]*(?:\.[A-Za-z$][\w$-]*)?$/i;
const SUB_ATTRIBUTE = /^[A-Za-z$][\w$-]*$/;

/** `[URI ":"] ATTRNAME *1subAttr` as the parser reads it: what may stand where a filter or path names an attribute. */
export function isAttributePath(text: string): boolean {
  return ATTRIBUTE_PATH.test(text);
}

/** The `subAttr` after a PATCH path's value filter, without its dot. */
export function isSubAttributeName(text: string): boolean {
  return SUB_ATTRIBUTE.test(text);
}
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

class Parser {
  private index = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  private get peek(): Token {
    return this.tokens[this.index]!;
  }

  private next(): Token {
    return this.tokens[this.index++]!;
  }

  private isKeyword(word: string): boolean {
    const t = this.peek;
    return t.kind === 'word' && t.text.toLowerCase() === word;
  }

  private expect(kind: Token['kind'], what: string): Token {
    const t = this.next();
    if (t.kind !== kind) fail(t.position, `expected ${what}, found ${describe(t)}`);
    return t;
  }

  /** The filter inside `[...]` of a PATCH path; stops before the closing bracket. */
  valueFilter(): Filter {
    return this.or();
  }

  remaining(): Token[] {
    return this.tokens.slice(this.index);
  }

  parse(): Filter {
    const filter = this.or();
    if (this.peek.kind !== 'end') fail(this.peek.position, `expected "and", "or" or the end of the filter, found ${describe(this.peek)}`);
    return filter;
  }

  private nested<T>(position: number, parse: () => T): T {
    if (++this.depth > MAX_FILTER_DEPTH) fail(position, `the filter nests deeper than ${MAX_FILTER_DEPTH} levels`);
    const result = parse();
    this.depth--;
    return result;
  }

  private or(): Filter {
    let left = this.and();
    while (this.isKeyword('or')) {
      this.next();
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): Filter {
    let left = this.unary();
    while (this.isKeyword('and')) {
      this.next();
      left = { kind: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): Filter {
    const t = this.peek;
    if (this.isKeyword('not') && this.tokens[this.index + 1]?.kind === '(') {
      this.next();
      return { kind: 'not', filter: this.parenthesised() };
    }
    if (t.kind === '(') return this.parenthesised();
    return this.attributeExpression();
  }

  private parenthesised(): Filter {
    const open = this.expect('(', '"("');
    const inner = this.nested(open.position, () => this.or());
    this.expect(')', '")" closing the group opened at position ' + open.position);
    return inner;
  }

  private attributeExpression(): Filter {
    const t = this.next();
    if (t.kind !== 'word') fail(t.position, `expected an attribute name, "not" or "(", found ${describe(t)}`);
    if (!ATTRIBUTE_PATH.test(t.text)) fail(t.position, `"${t.text}" is not an attribute path`);
    const path: AttributePath = { text: t.text, position: t.position };
    if (this.peek.kind === '[') {
      const open = this.next();
      const inner = this.nested(open.position, () => this.or());
      this.expect(']', `"]" closing the value filter opened at position ${open.position}`);
      return { kind: 'valuePath', path, filter: inner };
    }
    const op = this.next();
    const opName = op.kind === 'word' ? op.text.toLowerCase() : '';
    if (opName === 'pr') return { kind: 'present', path };
    if (!(COMPARE_OPERATORS as readonly string[]).includes(opName)) {
      fail(op.position, `expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after "${t.text}", found ${describe(op)}`);
    }
    return { kind: 'compare', path, op: opName as CompareOperator, value: this.value(opName) };
  }

  private value(op: string): FilterValue {
    const t = this.next();
    if (t.kind === 'string') return t.value;
    if (t.kind !== 'word') fail(t.position, `expected a value after "${op}" (a "string", a number, true, false or null), found ${describe(t)}`);
    const lower = t.text.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    if (lower === 'null') return null;
    if (NUMBER.test(t.text)) return Number(t.text);
    if (FOREIGN_QUOTES.test(t.text)) fail(t.position, `a string is quoted with double quotes ("…"), not ${t.text[0]}; found ${describe(t)}`);
    // Tolerance: an unquoted value (`userName sw O`, sent by Microsoft's test collection) is the string it spells.
    return t.text;
  }
}

/** A PATCH path (RFC 7644 §3.5.2): `attrPath`, or `attrPath[valFilter]` optionally followed by `.subAttr`. */
export interface PatchPath {
  readonly attribute: AttributePath;
  readonly filter?: Filter;
  readonly subAttribute?: string;
}

export function parsePath(text: string): PatchPath {
  if (text.length > MAX_FILTER_LENGTH) throw scimErrors.invalidPath(`The path is longer than ${MAX_FILTER_LENGTH} characters.`);
  const tokens = tokenize(text);
  const first = tokens[0]!;
  if (first.kind !== 'word' || !ATTRIBUTE_PATH.test(first.text)) {
    throw scimErrors.invalidPath(`"${text}" is not a valid path: expected an attribute path such as "emails" or "name.givenName" at position ${first.position}.`);
  }
  const attribute = { text: first.text, position: first.position };
  if (tokens[1]?.kind === 'end') return { attribute };
  if (tokens[1]?.kind !== '[') throw scimErrors.invalidPath(`"${text}" is not a valid path: unexpected ${describe(tokens[1]!)} at position ${tokens[1]!.position}.`);
  const parser = new Parser(tokens.slice(2));
  const filter = parser.valueFilter();
  const rest = parser.remaining();
  if (rest[0]?.kind !== ']') throw scimErrors.invalidPath(`"${text}" is not a valid path: the value filter is not closed with "]".`);
  const after = rest[1];
  if (after?.kind === 'end') return { attribute, filter };
  if (after?.kind === 'word' && after.text.startsWith('.') && isSubAttributeName(after.text.slice(1)) && rest[2]?.kind === 'end') {
    return { attribute, filter, subAttribute: after.text.slice(1) };
  }
  throw scimErrors.invalidPath(`"${text}" is not a valid path: after "]" only ".subAttribute" may follow.`);
}

export function parseFilter(text: string): Filter {
  if (text.length > MAX_FILTER_LENGTH) fail(1, `the filter is longer than ${MAX_FILTER_LENGTH} characters`);
  if (text.trim() === '') fail(1, 'the filter is empty');
  return new Parser(tokenize(text)).parse();
}

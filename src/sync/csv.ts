/**
 * A CSV export (an HR system's, a spreadsheet's) read as the users and groups it wants. Each column maps to a SCIM
 * attribute: by default by its header, so the usual names of HR exports work unmapped (`employee_id`, `email`,
 * `first_name`, `Given Name`, `department`, `manager`, `status`…); a mapping of your own replaces the default for the
 * columns it names. Parsing is csv-parse's (quotes, embedded newlines, a BOM); the delimiter is read from the header.
 */
import { parse } from 'csv-parse/sync';
import { ENTERPRISE_URN, SyncInputError, USER_URN, type Desired, type DesiredGroup, type DesiredUser, type MatchAttribute } from './model.js';
import { userKey } from './plan.js';

/**
 * Where a column goes: an attribute (`title`, `name.givenName`, `urn:…:User:department`), a typed multi-valued
 * value (`emails.work`, `phoneNumbers.mobile`), a shorthand of the enterprise extension (`department`,
 * `employeeNumber`, `costCenter`, `organization`, `division`), `manager` (the manager's key), `groups` (names
 * separated by `;`), `active` (a boolean or a status word), or `-` to ignore the column.
 */
export type ColumnTarget = string;

/** Header (compared lowercased, without spaces or punctuation) → target. */
export const DEFAULT_MAPPING: Readonly<Record<string, ColumnTarget>> = {
  employeeid: 'externalId', externalid: 'externalId', workerid: 'externalId', personid: 'externalId', empid: 'externalId', id: 'externalId',
  username: 'userName', login: 'userName', userprincipalname: 'userName', upn: 'userName',
  email: 'emails.work', emailaddress: 'emails.work', workemail: 'emails.work', mail: 'emails.work',
  firstname: 'name.givenName', givenname: 'name.givenName', forename: 'name.givenName',
  lastname: 'name.familyName', familyname: 'name.familyName', surname: 'name.familyName',
  middlename: 'name.middleName',
  displayname: 'displayName', fullname: 'displayName', name: 'displayName',
  nickname: 'nickName',
  title: 'title', jobtitle: 'title', position: 'title',
  usertype: 'userType', employeetype: 'userType',
  department: 'department', dept: 'department', division: 'division', costcenter: 'costCenter', company: 'organization', organization: 'organization',
  employeenumber: 'employeeNumber',
  manager: 'manager', managerid: 'manager', manageremployeeid: 'manager',
  active: 'active', status: 'active', enabled: 'active', employmentstatus: 'active',
  groups: 'groups', group: 'groups', teams: 'groups',
  phone: 'phoneNumbers.work', workphone: 'phoneNumbers.work', phonenumber: 'phoneNumbers.work',
  mobile: 'phoneNumbers.mobile', mobilephone: 'phoneNumbers.mobile', cellphone: 'phoneNumbers.mobile',
  locale: 'locale', timezone: 'timezone', preferredlanguage: 'preferredLanguage',
};

const ENTERPRISE_SHORTHANDS = new Set(['department', 'employeeNumber', 'costCenter', 'organization', 'division']);
const TYPED_MULTI = new Set(['emails', 'phoneNumbers', 'ims', 'photos']);
const TRUE_WORDS = new Set(['true', '1', 'yes', 'y', 'active', 'enabled', 'employed', 'a']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'n', 'inactive', 'disabled', 'terminated', 'suspended', 'leaver', 'left', 'i']);

export const normalizeHeader = (header: string) => header.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');

export interface CsvOptions {
  readonly match?: MatchAttribute;
  /** Header (as written, or normalized) → target; replaces the default for the columns it names. */
  readonly mapping?: Readonly<Record<string, ColumnTarget>>;
  /** The department column also names a group each user is a member of. */
  readonly departmentGroups?: boolean;
}

/** Where a target puts a value: a path into the document, or one of the special columns. */
type Placement =
  | { kind: 'ignore' }
  | { kind: 'active' | 'manager' | 'groups' }
  | { kind: 'top'; name: string }
  | { kind: 'sub'; name: string; sub: string }
  | { kind: 'typed'; name: string; type: string }
  | { kind: 'extension'; urn: string; name: string };

export function placement(target: ColumnTarget): Placement {
  const t = target.trim();
  if (t === '-' || t === '' || t === 'ignore') return { kind: 'ignore' };
  if (t === 'active' || t === 'manager' || t === 'groups') return { kind: t };
  if (ENTERPRISE_SHORTHANDS.has(t)) return { kind: 'extension', urn: ENTERPRISE_URN, name: t };
  if (/^urn:/i.test(t)) {
    const at = t.lastIndexOf(':');
    const urn = t.slice(0, at);
    const name = t.slice(at + 1);
    if (urn === ENTERPRISE_URN && name === 'manager') return { kind: 'manager' };
    if (!/^[A-Za-z][\w-]*$/.test(name)) throw new SyncInputError(`mapping target "${target}" is not URN:attribute`);
    return { kind: 'extension', urn, name };
  }
  const m = /^([A-Za-z][\w-]*)(?:\.([A-Za-z][\w-]*))?$/.exec(t);
  if (!m) throw new SyncInputError(`mapping target "${target}" is not an attribute (such as title, name.givenName, emails.work, or urn:…:department)`);
  const [, name, sub] = m as unknown as [string, string, string | undefined];
  if (sub === undefined) return { kind: 'top', name };
  return TYPED_MULTI.has(name) ? { kind: 'typed', name, type: sub } : { kind: 'sub', name, sub };
}

/** The path a placement writes, as a PATCH would name it (what the plan compares and clears). */
function pathOf(p: Placement): string | undefined {
  switch (p.kind) {
    case 'top': return p.name;
    case 'sub': return `${p.name}.${p.sub}`;
    case 'typed': return p.name;
    case 'extension': return `${p.urn}:${p.name}`;
    default: return undefined;
  }
}

/** The delimiter the header line uses most: `,`, `;` or a tab. */
function delimiterOf(text: string): string {
  const header = text.slice(0, text.indexOf('\n') === -1 ? text.length : text.indexOf('\n'));
  const counts = [',', ';', '\t'].map((d) => [d, header.split(d).length - 1] as const);
  return counts.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
}

export function parseActive(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (TRUE_WORDS.has(v)) return true;
  if (FALSE_WORDS.has(v)) return false;
  return undefined;
}

export function readCsv(text: string, options: CsvOptions = {}): Desired {
  const match = options.match ?? 'externalId';
  let rows: { info: { lines: number }; record: string[] }[];
  try {
    rows = parse(text, { bom: true, delimiter: delimiterOf(text.replace(/^\uFEFF/, '')), skip_empty_lines: true, trim: true, info: true, relax_column_count: true }) as unknown as typeof rows;
  } catch (e) {
    throw new SyncInputError(`the CSV cannot be read: ${(e as Error).message}`);
  }
  const [head, ...body] = rows;
  if (head === undefined) throw new SyncInputError('the CSV is empty: it has no header line');
  const custom = new Map(Object.entries(options.mapping ?? {}).map(([k, v]) => [normalizeHeader(k), v]));
  for (const name of custom.keys()) {
    if (!head.record.some((h) => normalizeHeader(h) === name)) throw new SyncInputError(`the mapping names a column "${name}" the CSV does not have (its columns: ${head.record.join(', ')})`);
  }
  const columns = head.record.map((header) => {
    const n = normalizeHeader(header);
    const target = custom.get(n) ?? DEFAULT_MAPPING[n] ?? '-';
    return { header, placement: placement(target) };
  });
  const paths = columns.map((c) => pathOf(c.placement));
  const seen = new Map<string, string>();
  columns.forEach((c, i) => {
    const path = paths[i];
    // two typed values of one attribute (emails.work, emails.home) share the attribute: only exact repeats clash
    const slot = c.placement.kind === 'typed' ? `${path}[${c.placement.type}]` : path ?? (c.placement.kind === 'ignore' ? undefined : c.placement.kind);
    if (slot === undefined) return;
    if (seen.has(slot)) throw new SyncInputError(`columns "${seen.get(slot)}" and "${c.header}" both map to ${slot}; map one of them to - (ignore)`);
    seen.set(slot, c.header);
  });
  const hasUserName = columns.some((c) => c.placement.kind === 'top' && c.placement.name === 'userName');
  const emailColumn = columns.findIndex((c) => c.placement.kind === 'typed' && c.placement.name === 'emails');
  if (!hasUserName && emailColumn === -1) throw new SyncInputError(`no column gives userName: name one userName, username or email, or map one with --map (columns: ${head.record.join(', ')})`);
  const departmentColumn = columns.findIndex((c) => c.placement.kind === 'extension' && c.placement.urn === ENTERPRISE_URN && c.placement.name === 'department');
  const groupsColumn = columns.findIndex((c) => c.placement.kind === 'groups');
  const withGroups = groupsColumn !== -1 || (options.departmentGroups === true && departmentColumn !== -1);
  if (options.departmentGroups && departmentColumn === -1) throw new SyncInputError('--department-groups: the CSV has no department column');

  const errors: string[] = [];
  const users: DesiredUser[] = [];
  const groups = new Map<string, string[]>();
  for (const { info, record } of body) {
    const line = info.lines;
    if (record.length !== columns.length) {
      errors.push(`line ${line}: ${record.length} fields, the header has ${columns.length}`);
      continue;
    }
    const doc: Record<string, unknown> = { schemas: [USER_URN] };
    const cleared: string[] = [];
    let manager: string | undefined;
    let memberOf: string[] = [];
    let active: boolean | undefined;
    record.forEach((value, i) => {
      const p = columns[i]!.placement;
      const empty = value === '';
      switch (p.kind) {
        case 'ignore': return;
        case 'active':
          if (empty) return;
          active = parseActive(value);
          if (active === undefined) errors.push(`line ${line}: ${columns[i]!.header} "${value}" is neither active (true, yes, 1, active, enabled) nor inactive (false, no, 0, inactive, disabled, terminated)`);
          return;
        case 'manager':
          if (empty) cleared.push(`${ENTERPRISE_URN}:manager`);
          else manager = value;
          return;
        case 'groups':
          memberOf = value.split(';').map((g) => g.trim()).filter((g) => g !== '');
          return;
        case 'top':
          if (empty) cleared.push(p.name);
          else doc[p.name] = value;
          return;
        case 'sub':
          if (empty) cleared.push(`${p.name}.${p.sub}`);
          else doc[p.name] = { ...(doc[p.name] as object | undefined), [p.sub]: value };
          return;
        case 'typed':
          if (!empty) doc[p.name] = [...((doc[p.name] as unknown[] | undefined) ?? []), { value, type: p.type }];
          else if (!doc[p.name]) cleared.push(p.name);
          return;
        case 'extension':
          if (empty) cleared.push(`${p.urn}:${p.name}`);
          else doc[p.urn] = { ...(doc[p.urn] as object | undefined), [p.name]: value };
      }
    });
    // a typed value filled by another column is not cleared by an empty one
    const finalCleared = cleared.filter((c) => doc[c] === undefined);
    if (!hasUserName && doc.userName === undefined) {
      const email = (doc.emails as { value: string }[] | undefined)?.[0]?.value;
      if (email !== undefined) doc.userName = email;
    }
    if (typeof doc.userName !== 'string') {
      errors.push(`line ${line}: no userName (its ${hasUserName ? 'userName' : 'email'} is empty)`);
      continue;
    }
    // a user the export lists is active unless it says otherwise: one deactivated as missing comes back
    doc.active = active ?? true;
    const extensionUrns = Object.keys(doc).filter((k) => k.startsWith('urn:'));
    if (manager !== undefined && !extensionUrns.includes(ENTERPRISE_URN)) extensionUrns.push(ENTERPRISE_URN);
    doc.schemas = [USER_URN, ...extensionUrns];
    const key = userKey(match, doc);
    if (key === undefined) {
      errors.push(`line ${line}: no ${match}, which users are matched by`);
      continue;
    }
    if (options.departmentGroups && departmentColumn !== -1) {
      const department = record[departmentColumn]!;
      if (department !== '' && !memberOf.includes(department)) memberOf.push(department);
    }
    for (const g of memberOf) {
      const members = groups.get(g);
      if (members) members.push(key);
      else groups.set(g, [key]);
    }
    users.push({ key, attributes: doc, cleared: finalCleared, ...(manager !== undefined ? { manager } : {}) });
    if (errors.length >= 20) break;
  }
  if (errors.length > 0) throw new SyncInputError(`the CSV has rows that cannot be synced (nothing was changed):\n  ${errors.slice(0, 20).join('\n  ')}`);
  const out: DesiredGroup[] = [...groups].map(([name, members]) => ({ key: name, displayName: name, members }));
  return { users, ...(withGroups ? { groups: out } : {}) };
}

/**
 * Compiles a bound SCIM filter and sort into SQL over the attribute index (attribute_str for strings and
 * complex-value markers, attribute_num for numbers, booleans and dateTimes; both keyed by an index scope, the
 * organization and resource type as one integer, and the attribute's path as the integer index_paths gives it) and
 * the membership relation. Values never enter the SQL text: every one is a parameter. The shared part is written
 * here once; a dialect supplies the few functions that differ between databases (see sql/dialect.ts).
 *
 * A filter becomes a set expression over resource keys (`seq`): a comparison selects from one index, `and` is
 * INTERSECT, `or` UNION, `not` EXCEPT from all resources of the type. A value filter (`emails[...]`) works on
 * (seq, element) pairs, so that all its conditions hold on the same element.
 */
import type { BoundFilter, SortSpec, Target } from '../../core/filter/bound.js';
import type { Keyset, ResourceQuery } from '../../core/model.js';
import type { SqlDialect, SqlFragment } from './dialect.js';
import { RESOURCE_COLUMNS } from './rows.js';

export interface QueryScope {
  readonly orgId: string;
  readonly resourceType: string;
  /**
   * The ids of index paths (index_paths), looked up by the store before compiling: a literal id lets PostgreSQL's
   * planner estimate from its statistics (a subquery's value is unknown when it plans). A path with no id has no
   * values anywhere and matches no row.
   */
  readonly paths: ReadonlyMap<string, number>;
}

/** The index paths a query's filter and sort read, for the store to look up their ids (QueryScope.paths). */
export function queryPaths(query: ResourceQuery): string[] {
  const out = new Set<string>();
  const target = (t: Target) => {
    if (t.source === 'attribute') out.add(t.key);
    if (t.primaryKey) out.add(t.primaryKey);
  };
  const visit = (f: BoundFilter): void => {
    if (f.kind === 'compare' || f.kind === 'present') target(f.target);
    else if (f.kind === 'and' || f.kind === 'or') (visit(f.left), visit(f.right));
    else if (f.kind === 'not') visit(f.filter);
    else (target(f.container), visit(f.filter));
  };
  if (query.filter) visit(query.filter);
  if (query.sort) target(query.sort.target);
  return [...out];
}

const P = '?';

function frag(sql: string, ...params: unknown[]): SqlFragment {
  return { sql, params };
}

function join(parts: readonly (SqlFragment | string)[]): SqlFragment {
  const params: unknown[] = [];
  const sql = parts
    .map((p) => {
      if (typeof p === 'string') return p;
      params.push(...p.params);
      return p.sql;
    })
    .join('');
  return { sql, params };
}

/** Binds `value` to every placeholder of a dialect expression (one may use the needle more than once). */
function withValue(sql: string, value: unknown): SqlFragment {
  return frag(sql, ...Array<unknown>(sql.split(P).length - 1).fill(value));
}

/**
 * Where a target's values are, as columns: seq of the owning resource, element key, the value (a string, or a
 * number: booleans as 0/1, dateTimes as epoch ms), and the condition of `pr`.
 */
interface Rows {
  readonly from: SqlFragment;
  readonly seq: string;
  readonly element: string;
  readonly value: string;
  /** The indexed prefix of a string `value` (SqlDialect.stringPrefix), where there is one. */
  readonly valuePrefix?: string;
  readonly present: string;
}

/** The index table of an attribute's values: strings (and a complex attribute's markers), or the rest. */
function indexTable(target: Target): 'attribute_str' | 'attribute_num' {
  return target.kind === undefined || target.kind === 'string' ? 'attribute_str' : 'attribute_num';
}

function rows(target: Target, scope: QueryScope, dialect: SqlDialect): Rows {
  switch (target.source) {
    case 'attribute': {
      const from = frag(
        ` FROM ${indexTable(target)} a WHERE a.scope = (SELECT id FROM index_scopes WHERE org_id = ${P} AND resource_type = ${P}) AND a.path = ${P}`,
        scope.orgId, scope.resourceType, scope.paths.get(target.key) ?? null,
      );
      if (indexTable(target) === 'attribute_num') return { from, seq: 'a.resource_seq', element: 'a.ordinal', value: 'a.num', present: '' };
      const prefix = dialect.stringPrefix ? `a.${dialect.stringPrefix.column}` : undefined;
      return {
        from,
        seq: 'a.resource_seq',
        element: 'a.ordinal',
        value: 'a.str',
        ...(prefix ? { valuePrefix: prefix } : {}),
        // a complex attribute's path holds only its markers; an empty string is no value (RFC 7644 §3.4.2.2)
        present: target.kind === undefined ? '' : ` AND ${prefix ?? 'a.str'} <> ''`,
      };
    }
    case 'members':
      return {
        from: frag(
          ` FROM group_members m ${dialect.membershipJoin} resources g ON g.org_id = m.org_id AND g.resource_type = ${P} AND g.id = m.group_id WHERE m.org_id = ${P}`,
          scope.resourceType, scope.orgId,
        ),
        seq: 'g.seq',
        element: 'm.member_id',
        ...relationValue(target.subAttribute === 'type' ? 'lower(m.member_type)' : target.subAttribute === 'value' ? 'm.member_id' : 'NULL'),
      };
    case 'groups':
      return {
        from: frag(
          ` FROM group_members m ${dialect.membershipJoin} resources u ON u.org_id = m.org_id AND u.resource_type = ${P} AND u.id = m.member_id WHERE m.org_id = ${P}`,
          scope.resourceType, scope.orgId,
        ),
        seq: 'u.seq',
        element: 'm.group_id',
        ...relationValue(target.subAttribute === 'value' ? 'm.group_id' : 'NULL'),
      };
  }
}

/** A membership's string value; a relation row is there (`pr`) unless the value is '' (NULL: not stored, e.g. display). */
function relationValue(value: string): Pick<Rows, 'value' | 'present'> {
  return { value, present: ` AND (${value} IS NULL OR ${value} <> '')` };
}

function condition(filter: Extract<BoundFilter, { kind: 'compare' | 'present' }>, r: Rows, dialect: SqlDialect): SqlFragment {
  if (filter.kind === 'present') return frag(r.present);
  const { op, value } = filter;
  if (typeof value === 'boolean') return frag(` AND ${r.value} = ${P}`, value ? 1 : 0);
  if (typeof value === 'number') {
    const sqlOp = { eq: '=', gt: '>', ge: '>=', lt: '<', le: '<=' }[op as 'eq'];
    return frag(` AND ${r.value} ${sqlOp} ${P}`, value);
  }
  const prefix = dialect.stringPrefix;
  if (!r.valuePrefix || !prefix || op === 'co' || op === 'ew') return stringCondition(op, value, r.value, dialect);
  const chars = [...value];
  if (chars.length < prefix.length) return stringCondition(op, value, r.valuePrefix, dialect);
  // a long value: the prefix narrows the index range (a string's prefix orders as the string does), str decides
  const bound = { eq: '=', sw: '=', gt: '>=', ge: '>=', lt: '<=', le: '<=' }[op];
  return join([frag(` AND ${r.valuePrefix} ${bound} ${P}`, chars.slice(0, prefix.length).join('')), stringCondition(op, value, r.value, dialect)]);
}

function stringCondition(op: Exclude<Extract<BoundFilter, { kind: 'compare' }>['op'], 'pr'>, value: string, column: string, dialect: SqlDialect): SqlFragment {
  switch (op) {
    case 'eq':
      return frag(` AND ${column} = ${P}`, value);
    case 'sw':
      // a range on the index rather than LIKE, which would scan (and fold case where the attribute is caseExact)
      return frag(` AND ${column} >= ${P} AND ${column} < ${P}`, value, value + dialect.maxCodePoint);
    case 'co':
      return withValue(` AND ${dialect.contains(column, P)}`, value);
    case 'ew':
      return withValue(` AND ${dialect.endsWith(column, P)}`, value);
    default:
      return frag(` AND ${column} ${{ gt: '>', ge: '>=', lt: '<', le: '<=' }[op]} ${P}`, value);
  }
}

/** SELECT s: the keys of the resources that match. */
function resources(filter: BoundFilter, scope: QueryScope, dialect: SqlDialect): SqlFragment {
  switch (filter.kind) {
    case 'compare':
    case 'present': {
      const r = rows(filter.target, scope, dialect);
      return join([`SELECT ${r.seq} AS s`, r.from, condition(filter, r, dialect)]);
    }
    case 'and':
    case 'or':
      return join([
        'SELECT s FROM (', resources(filter.left, scope, dialect), ') AS l ',
        filter.kind === 'and' ? 'INTERSECT' : 'UNION',
        ' SELECT s FROM (', resources(filter.right, scope, dialect), ') AS r',
      ]);
    case 'not':
      return join([
        frag(`SELECT seq AS s FROM resources WHERE org_id = ${P} AND resource_type = ${P} EXCEPT SELECT s FROM (`, scope.orgId, scope.resourceType),
        resources(filter.filter, scope, dialect),
        ') AS n',
      ]);
    case 'element':
      return join(['SELECT DISTINCT s FROM (', elements(filter.filter, filter.container, scope, dialect), ') AS e']);
  }
}

/** SELECT s, e: the (resource, element) pairs of `container` whose element matches. */
function elements(filter: BoundFilter, container: Target, scope: QueryScope, dialect: SqlDialect): SqlFragment {
  switch (filter.kind) {
    case 'compare':
    case 'present': {
      const r = rows(filter.target, scope, dialect);
      return join([`SELECT ${r.seq} AS s, ${r.element} AS e`, r.from, condition(filter, r, dialect)]);
    }
    case 'and':
    case 'or':
      return join([
        'SELECT s, e FROM (', elements(filter.left, container, scope, dialect), ') AS l ',
        filter.kind === 'and' ? 'INTERSECT' : 'UNION',
        ' SELECT s, e FROM (', elements(filter.right, container, scope, dialect), ') AS r',
      ]);
    case 'not': {
      const all = rows(container, scope, dialect);
      return join([`SELECT ${all.seq} AS s, ${all.element} AS e`, all.from, ' EXCEPT SELECT s, e FROM (', elements(filter.filter, container, scope, dialect), ') AS n']);
    }
    case 'element':
      throw new Error('value filters cannot be nested (bind.ts refuses them)');
  }
}

/** A boolean SQL condition on `resources r`: the resource matches the filter. */
export function filterCondition(filter: BoundFilter, scope: QueryScope, dialect: SqlDialect): SqlFragment {
  return join(['r.seq IN (', resources(filter, scope, dialect), ')']);
}

/**
 * The sort key of `resources r` (RFC 7644 §3.4.2.3): the attribute's value; for a multi-valued attribute the value
 * of the element marked primary, else the first.
 */
export function sortKey(sort: SortSpec, paths: QueryScope['paths']): SqlFragment {
  const t = sort.target;
  if (t.source !== 'attribute') throw new Error('sorting by a relation is refused by the core');
  const table = indexTable(t);
  const column = table === 'attribute_str' ? 'v.str' : 'v.num';
  if (!t.primaryKey) {
    return frag(`(SELECT ${column} FROM ${table} v WHERE v.resource_seq = r.seq AND v.path = ${P} ORDER BY v.ordinal LIMIT 1)`, paths.get(t.key) ?? null);
  }
  return frag(
    `(SELECT ${column} FROM ${table} v WHERE v.resource_seq = r.seq AND v.path = ${P}
      ORDER BY NOT EXISTS (SELECT 1 FROM attribute_num p WHERE p.resource_seq = v.resource_seq AND p.path = ${P}
                           AND p.ordinal = v.ordinal AND p.num = 1), v.ordinal LIMIT 1)`,
    paths.get(t.key) ?? null, paths.get(t.primaryKey) ?? null,
  );
}

/**
 * The SQL of one list request: the count of all matches, and the requested page. Keyset pages (`after`/`before`)
 * seek from their anchor, so a deep page costs what the first one does; `before` reads the order backwards.
 * The page's rows are `resources` rows (plus `sort_key` when sorted).
 */
export function listQueries(
  orgId: string,
  resourceType: string,
  query: ResourceQuery,
  dialect: SqlDialect,
  paths: QueryScope['paths'],
): { count: SqlFragment; page: SqlFragment } {
  // With a filter, the matching keys drive the query (the filter is already scoped to the organization and type),
  // not a walk of every resource of the type through its identity index.
  const where: SqlFragment = query.filter
    ? join([
      frag(`${dialect.unindexed('r.org_id')} = ${P} AND ${dialect.unindexed('r.resource_type')} = ${P} AND `, orgId, resourceType),
      filterCondition(query.filter, { orgId, resourceType, paths }, dialect),
    ])
    : frag(`r.org_id = ${P} AND r.resource_type = ${P}`, orgId, resourceType);
  const count = query.filter
    ? join(['SELECT count(*) AS total FROM resources r WHERE ', where])
    : frag(`SELECT coalesce((SELECT n FROM resource_counts WHERE org_id = ${P} AND resource_type = ${P}), 0) AS total`, orgId, resourceType);
  const anchor = query.after ?? query.before;
  // Reading backwards from a `before` anchor is reading forwards in the opposite order.
  const descending = (query.sort?.descending ?? false) !== (query.before !== undefined);
  // The limit written into the text, not bound: SQLite answers a filtered page in half the time when it is (the
  // counts IdPs ask for are few, so the statement cache holds them).
  if (!Number.isSafeInteger(query.limit) || query.limit < 0) throw new RangeError(`a page's limit is a whole number, not ${query.limit}`);
  const limits = frag(` LIMIT ${query.limit} OFFSET ${P}`, query.offset);
  if (!query.sort) {
    const seek = anchor ? frag(` AND r.seq ${descending ? '<' : '>'} ${P}`, anchor.position) : '';
    // in creation order the rows come off an index in order, so the groups are read only for the page's own
    const columns = query.withGroups ? `${RESOURCE_COLUMNS}, ${memberGroupsColumn(dialect)}` : RESOURCE_COLUMNS;
    return { count, page: join([`SELECT ${columns} FROM resources r WHERE `, where, seek, ` ORDER BY r.seq ${descending ? 'DESC' : 'ASC'}`, limits]) };
  }
  // RFC 7644 §3.4.2.3: resources without a value come last ascending, first descending; creation order breaks
  // ties in the same direction.
  const order = descending ? 'sort_key IS NOT NULL, sort_key DESC, seq DESC' : 'sort_key IS NULL, sort_key ASC, seq ASC';
  const seek = anchor ? keysetAfter(anchor, descending) : '';
  return {
    count,
    page: join([`SELECT * FROM (SELECT ${RESOURCE_COLUMNS}, `, sortKey(query.sort, paths), ' AS sort_key FROM resources r WHERE ', where, ') AS sorted', seek, ` ORDER BY ${order}`, limits]),
  };
}

/**
 * The column `groups` of the resources row `of` (an alias, or `resources` in an UPDATE's RETURNING, which SQLite
 * lets name no alias): the groups it is a direct member of, as one JSON array of [id, resource type, display] in the
 * order groupsOf gives them.
 */
export function memberGroupsColumn(dialect: SqlDialect, of = 'r'): string {
  return `(SELECT ${dialect.jsonRows(['m.group_id', 'g.resource_type', 'g.display'], `m.${dialect.memberPosition}`)}
     FROM group_members m ${dialect.membershipJoin} resources g ON g.org_id = m.org_id AND g.id = m.group_id
     WHERE m.org_id = ${of}.org_id AND m.member_id = ${of}.id) AS groups`;
}

/** The rows after `at` in the order (sort_key, seq), ascending with missing keys last or descending with them first. */
function keysetAfter(at: Keyset, descending: boolean): SqlFragment {
  const k = at.key ?? null;
  if (!descending) {
    return k === null
      ? frag(` WHERE sort_key IS NULL AND seq > ${P}`, at.position)
      : frag(` WHERE (sort_key IS NULL OR sort_key > ${P} OR (sort_key = ${P} AND seq > ${P}))`, k, k, at.position);
  }
  return k === null
    ? frag(` WHERE (sort_key IS NOT NULL OR seq < ${P})`, at.position)
    : frag(` WHERE (sort_key < ${P} OR (sort_key = ${P} AND seq < ${P}))`, k, k, at.position);
}

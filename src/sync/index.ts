/**
 * scimd/sync: makes a SCIM server hold what a source says (a CSV export, a file of SCIM resources, another SCIM
 * server), changing only what differs. `scimd sync` is its command line. Not part of scimd/client, which depends
 * on nothing beyond Node: reading CSV takes csv-parse.
 *
 * ```ts
 * const target = new ScimClient({ baseUrl, credentials: { bearer } });
 * const { summary } = await sync({ target, source: readCsv(text), onMissing: 'deactivate' });
 * ```
 */
import type { ScimClient } from '../client/index.js';
import { apply, tally, type ApplyOptions } from './apply.js';
import { plan as makePlan, type Plan, type PlanOptions } from './plan.js';
import { readServer } from './sources.js';
import type { Desired } from './model.js';

export { readCsv, DEFAULT_MAPPING, type CsvOptions, type ColumnTarget } from './csv.js';
export { readResources, readScimSource, readServer, parseResources } from './sources.js';
export { plan, covers, userKey, ON_MISSING, type Plan, type PlanOptions, type Change, type Conflict, type OnMissing, type PatchOperation, type MemberRef } from './plan.js';
export { apply, rateLimiter, type ApplyOptions, type Applied, type Counts, type Failure, type Progress } from './apply.js';
export { SyncInputError, type Desired, type DesiredUser, type DesiredGroup, type TargetState, type TargetResource } from './model.js';
export { planText, summaryText, type Summary } from './report.js';
import type { Summary } from './report.js';

export interface SyncOptions extends PlanOptions, ApplyOptions {
  /** The server to change. */
  readonly target: ScimClient;
  /** What it should hold (readCsv, readResources, readScimSource). */
  readonly source: Desired;
  /** Compute the plan and change nothing. */
  readonly dryRun?: boolean;
}

export interface SyncResult {
  readonly plan: Plan;
  readonly summary: Summary;
}

/** Reads the target, plans the difference and (unless a dry run) carries it out. */
export async function sync(options: SyncOptions): Promise<SyncResult> {
  const { target, source } = options;
  const state = await readServer(target, { groups: source.groups !== undefined });
  const plan = makePlan(source, state, options);
  if (options.dryRun) {
    const { features } = await target.discover();
    const counts = tally(plan, new Map(), new Set());
    return { plan, summary: { dryRun: true, interrupted: false, bulk: (options.bulk ?? true) && features.bulk.supported, requests: 0, seconds: 0, ...counts, warnings: plan.warnings } };
  }
  const applied = await apply(target, plan, options);
  return { plan, summary: { dryRun: false, ...applied, warnings: plan.warnings } };
}

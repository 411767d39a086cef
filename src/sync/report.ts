/** A plan and a summary as text: one line a change, counts, every failure with the server's SCIM error. */
import type { Counts, Failure } from './apply.js';
import type { Change, Plan } from './plan.js';

export interface Summary {
  readonly dryRun: boolean;
  readonly interrupted: boolean;
  /** Whether the changes went through Bulk. */
  readonly bulk: boolean;
  /** Requests sent to carry out the plan (reads not counted). */
  readonly requests: number;
  /** Seconds from the first of those requests to the last answer (0 when none was sent). */
  readonly seconds: number;
  readonly users: Counts;
  readonly groups: Counts;
  /** Every failed change, with the server's SCIM error. */
  readonly failures: readonly Failure[];
  readonly warnings: readonly string[];
}

function changeLine(c: Change): string {
  const what = `${c.type} ${c.key}`;
  switch (c.action) {
    case 'create': {
      const members = c.addMembers?.length ? ` with ${c.addMembers.length} member(s)` : '';
      return `+ create ${what}${members}${c.manager !== undefined ? ` (manager ${c.manager}, created in this run)` : ''}`;
    }
    case 'update': {
      const members = [c.addMembers?.length ? `+${c.addMembers.length} member(s)` : '', c.removeMembers?.length ? `-${c.removeMembers.length} member(s)` : ''].filter(Boolean).join(' ');
      const attributes = (c.attributes ?? []).filter((a) => a !== 'members');
      return `~ update ${what}: ${[attributes.join(', '), members].filter(Boolean).join('; ')}`;
    }
    case 'deactivate': return `- deactivate ${what} (no longer in the source)`;
    case 'delete': return `- delete ${what} (no longer in the source)`;
  }
}

export function planText(plan: Plan): string {
  const lines = plan.changes.map(changeLine);
  for (const c of plan.conflicts) lines.push(`! conflict ${c.type} ${c.key}: ${c.detail}`);
  for (const w of plan.warnings) lines.push(`? ${w}`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

const countsLine = (name: string, c: Counts, dryRun: boolean) =>
  `${name}: ${dryRun ? 'would create' : 'created'} ${c.created}, ${dryRun ? 'update' : 'updated'} ${c.updated}, ${dryRun ? 'deactivate' : 'deactivated'} ${c.deactivated}, ` +
  `${dryRun ? 'delete' : 'deleted'} ${c.deleted}, unchanged ${c.unchanged}, failed ${c.failed}${c.pending > 0 ? `, not done ${c.pending}` : ''}`;

const failureLine = (f: Failure) =>
  `FAILED ${f.action} ${f.type} ${f.key}: ${f.status !== undefined ? `${f.status}${f.scimType ? ` ${f.scimType}` : ''} — ` : ''}${f.detail}`;

export function summaryText(summary: Summary): string {
  const lines = [
    countsLine('users', summary.users, summary.dryRun),
    countsLine('groups', summary.groups, summary.dryRun),
    ...summary.failures.map(failureLine),
  ];
  if (summary.requests > 0) lines.push(`${summary.requests} ${summary.bulk ? 'Bulk ' : ''}request${summary.requests === 1 ? '' : 's'} in ${summary.seconds.toFixed(1)} s`);
  if (summary.dryRun) lines.push('dry run: nothing was changed');
  else if (summary.interrupted) lines.push('interrupted: run the same command again to finish (the plan is recomputed from the target)');
  return `${lines.join('\n')}\n`;
}

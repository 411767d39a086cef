/** What both SQL stores put in the event outbox for a write (see ChangeRecord), and how. */
import { memberEvent, type LifecycleEvent } from '../../core/events.js';
import type { ChangeRecord } from '../../core/model.js';
import { auditValues, insertAuditValues, type AuditWrite } from './audit.js';
import type { SqlDialect } from './dialect.js';
import { insertFlat, type Program } from './executor.js';

/** The record's events, and one member event per member the write really added or removed. */
export function outboxEvents(record: ChangeRecord, added: readonly string[], removed: readonly string[]): LifecycleEvent[] {
  const base = record.memberEvents;
  const members = base ? [...added.map((m) => memberEvent(base, true, m)), ...removed.map((m) => memberEvent(base, false, m))] : [];
  return [...(record.events ?? []), ...members];
}

/** One resource's events, delivered in order. */
export function streamOf(event: LifecycleEvent): string {
  return `${event.organization}/${event.resource.type}/${event.resource.id}`;
}

/** Each channel delivers a stream of its own per resource. */
export function outboxStream(channel: string, event: LifecycleEvent): string {
  return `${channel}|${streamOf(event)}`;
}

/** The outbox rows of a record, flat (id, channel, stream, payload, next_attempt, org_id, …): each event once per channel. */
export function outboxValues(record: ChangeRecord | undefined, added: readonly string[], removed: readonly string[]): unknown[] {
  if (!record) return [];
  const events = outboxEvents(record, added, removed);
  return (record.channels ?? ['']).flatMap((channel) => events.flatMap((e) => [e.id, channel, outboxStream(channel, e), JSON.stringify(e), e.at, e.organization]));
}

/** event_outbox rows given flat (outboxValues of each record), in multi-row statements. */
export function insertOutboxValues(flat: readonly unknown[], dialect: SqlDialect): Program<number> {
  return insertFlat('INSERT INTO event_outbox (id, channel, stream, payload, next_attempt, org_id)', 6, flat, dialect.rowsPerInsert);
}

/** What writes record in their transaction (see ChangeRecord): the audit entries and the outbox events. */
export function* recordChanges(writes: readonly (Omit<AuditWrite, 'entry'> & { readonly record: ChangeRecord | undefined })[], dialect: SqlDialect): Program<void> {
  const audit = writes.flatMap((w) => (w.record?.audit ? auditValues({ ...w, entry: w.record.audit }) : []));
  yield* insertAuditValues(audit, dialect);
  yield* insertOutboxValues(writes.flatMap((w) => outboxValues(w.record, w.added, w.removed)), dialect);
}

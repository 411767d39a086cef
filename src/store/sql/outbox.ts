/** What both SQL stores put in the event outbox for a write (see Store's ChangeRecord). */
import { memberEvent, type LifecycleEvent } from '../../core/events.js';
import type { ChangeRecord } from '../store.js';

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

/** The outbox rows of a record: each event once per channel. */
export function outboxRows(record: ChangeRecord, added: readonly string[], removed: readonly string[]): { id: string; channel: string; stream: string; payload: string; at: string }[] {
  const events = outboxEvents(record, added, removed);
  return (record.channels ?? ['']).flatMap((channel) =>
    events.map((e) => ({ id: e.id, channel, stream: outboxStream(channel, e), payload: JSON.stringify(e), at: e.at })),
  );
}

/** Lifecycle events derived from a change (issue #7), and webhook signatures. */
import { describe, expect, it } from 'vitest';
import { eventsOf, memberEvent } from '../../src/core/events.js';
import { sign, verifySignature } from '../../src/events/webhook.js';

const base = { at: '2026-01-01T00:00:00.000Z', organization: 'org-1', resource: { type: 'User', id: 'u1', externalId: 'e1' } };
const types = (...args: Parameters<typeof eventsOf>) => eventsOf(...args).map((e) => [e.type, e.changes.map((c) => c.attribute)]);

describe('eventsOf', () => {
  it('create, delete: <type>.created, <type>.deleted with the changes', () => {
    expect(types('create', base, [{ attribute: 'userName', after: 'a' }])).toEqual([['user.created', ['userName']]]);
    expect(types('delete', base, [{ attribute: 'userName', before: 'a' }])).toEqual([['user.deleted', ['userName']]]);
    expect(types('create', { ...base, resource: { type: 'Device', id: 'd1' } }, [])).toEqual([['device.created', []]]);
  });

  it('active true or absent → false is user.deactivated; false → true is user.reactivated; other changes are user.updated', () => {
    expect(types('patch', base, [{ attribute: 'active', before: true, after: false }])).toEqual([['user.deactivated', ['active']]]);
    expect(types('replace', base, [{ attribute: 'active', after: false }, { attribute: 'title', after: 'x' }])).toEqual([['user.deactivated', ['active']], ['user.updated', ['title']]]);
    expect(types('patch', base, [{ attribute: 'active', before: false, after: true }])).toEqual([['user.reactivated', ['active']]]);
    expect(types('patch', base, [{ attribute: 'active', before: false }])).toEqual([['user.reactivated', ['active']]]);
    expect(types('patch', base, [{ attribute: 'active', after: true }])).toEqual([['user.updated', ['active']]]);
    expect(types('patch', base, [])).toEqual([]);
    // a group has no active: its changes are group.updated
    expect(types('patch', { ...base, resource: { type: 'Group', id: 'g1' } }, [{ attribute: 'active', after: false }])).toEqual([['group.updated', ['active']]]);
  });

  it('each event has its own id and carries organization, resource and externalId; member events name the member', () => {
    const [a] = eventsOf('create', base, []);
    const [b] = eventsOf('create', base, []);
    expect(a!.id).not.toBe(b!.id);
    expect(a).toMatchObject({ organization: 'org-1', resource: { type: 'User', id: 'u1', externalId: 'e1' }, at: base.at });
    expect(memberEvent({ ...base, resource: { type: 'Group', id: 'g1' } }, false, 'u9')).toMatchObject({ type: 'group.member_removed', member: { id: 'u9' }, changes: [] });
  });

  it('carry the organization\'s name when the base has it (a context built by hand may not: then none)', () => {
    expect(eventsOf('create', base, [])[0]).not.toHaveProperty('organizationName');
    const named = { ...base, organizationName: 'acme' };
    expect(eventsOf('create', named, [])[0]).toMatchObject({ organization: 'org-1', organizationName: 'acme' });
    expect(memberEvent({ ...named, resource: { type: 'Group', id: 'g1' } }, true, 'u9')).toMatchObject({ organizationName: 'acme' });
  });
});

describe('webhook signatures', () => {
  const secret = 'a-secret-of-some-length';
  const body = '{"id":"e1"}';
  const now = new Date('2026-01-01T00:00:00Z');
  const t = Math.floor(now.getTime() / 1000);

  it('a signature made with the secret over the time and body verifies', () => {
    expect(verifySignature(secret, sign(secret, t, body), body, { now })).toBe(true);
  });

  it.each([
    ['another body', sign(secret, t, body), '{"id":"e2"}', now],
    ['another secret', sign('another-secret-of-length', t, body), body, now],
    ['an old time (a replay)', sign(secret, t - 301, body), body, now],
    ['no header', undefined, body, now],
    ['a malformed header', 'v1=abc', body, now],
  ])('is refused for %s', (_name, header, payload, at) => {
    expect(verifySignature(secret, header, payload, { now: at })).toBe(false);
  });
});

/** A CSV export read as users and groups: the default mapping of common HR headers, a mapping of one's own, bad input refused. */
import { describe, expect, it } from 'vitest';
import { readCsv, SyncInputError } from '../../src/sync/index.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

describe('readCsv', () => {
  it('maps the usual HR headers by default, in any case and spelling', () => {
    const csv = [
      '\uFEFFEmployee ID,Work Email,Given Name,last_name,Display Name,Job Title,Department,Manager,Status,Groups,Shoe Size',
      'E1,ann@example.com,Ann,Lee,Ann Lee,CEO,Exec,,Active,Leaders; All ,44',
      'E2,bob@example.com,Bob,Ray,"Ray, Bob",,Eng,E1,terminated,All,41',
    ].join('\r\n');
    const { users, groups } = readCsv(csv);
    expect(users).toEqual([
      {
        key: 'E1',
        attributes: {
          schemas: [USER, ENT], externalId: 'E1', userName: 'ann@example.com', emails: [{ value: 'ann@example.com', type: 'work' }],
          name: { givenName: 'Ann', familyName: 'Lee' }, displayName: 'Ann Lee', title: 'CEO', [ENT]: { department: 'Exec' }, active: true,
        },
        cleared: [`${ENT}:manager`],
      },
      {
        key: 'E2',
        attributes: {
          schemas: [USER, ENT], externalId: 'E2', userName: 'bob@example.com', emails: [{ value: 'bob@example.com', type: 'work' }],
          name: { givenName: 'Bob', familyName: 'Ray' }, displayName: 'Ray, Bob', [ENT]: { department: 'Eng' }, active: false,
        },
        cleared: ['title'],
        manager: 'E1',
      },
    ]);
    expect(groups).toEqual([
      { key: 'Leaders', displayName: 'Leaders', members: ['E1'] },
      { key: 'All', displayName: 'All', members: ['E1', 'E2'] },
    ]);
  });

  it('reads ; or tab as the delimiter, quoted fields with newlines, and says nothing of groups without a groups column', () => {
    const { users, groups } = readCsv('id;username;title\nA1;ann;"Chief\nExecutive"\n\nA2;bob;x\n');
    expect(users.map((u) => [u.key, u.attributes.userName, u.attributes.title])).toEqual([['A1', 'ann', 'Chief\nExecutive'], ['A2', 'bob', 'x']]);
    expect(groups).toBeUndefined();
    expect(readCsv('id\tusername\nA1\tann\n').users[0]!.attributes.userName).toBe('ann');
  });

  it('a mapping of one\'s own replaces the default for the columns it names, and can ignore a column', () => {
    const csv = 'Person Number,Login,Email,Cost Centre,Dept,Team\nP7,ann.lee,ann@example.com,CC-1,Sales,Blue\n';
    const { users, groups } = readCsv(csv, {
      mapping: { 'Person Number': 'externalId', login: 'userName', email: 'emails.home', 'cost centre': 'costCenter', Dept: '-', Team: 'groups' },
    });
    expect(users[0]).toEqual({
      key: 'P7',
      attributes: { schemas: [USER, ENT], externalId: 'P7', userName: 'ann.lee', emails: [{ value: 'ann@example.com', type: 'home' }], [ENT]: { costCenter: 'CC-1' }, active: true },
      cleared: [],
    });
    expect(groups).toEqual([{ key: 'Blue', displayName: 'Blue', members: ['P7'] }]);
  });

  it('matches by another attribute (userName, in any case), and makes departments groups when asked', () => {
    const { users, groups } = readCsv('username,department\nAnn@Example.com,Sales\n', { match: 'userName', departmentGroups: true });
    expect(users[0]!.key).toBe('ann@example.com');
    expect(groups).toEqual([{ key: 'Sales', displayName: 'Sales', members: ['ann@example.com'] }]);
  });

  it('refuses bad input with the lines at fault', () => {
    const bad = (csv: string, options = {}) => {
      try {
        readCsv(csv, options);
      } catch (e) {
        expect(e).toBeInstanceOf(SyncInputError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad('employee_id,email,status\nE1,a@x,active\n,b@x,active\nE3,c@x,maybe\nE4,,active\n')).toMatch(/line 3: no externalId[\s\S]*line 4: status "maybe" is neither[\s\S]*line 5: no userName/);
    expect(bad('employee_id,title\nE1,x\n')).toMatch(/no column gives userName/);
    expect(bad('employee_id,email\nE1,a@x\n', { mapping: { Login: 'userName' } })).toMatch(/names a column "login" the CSV does not have/);
    expect(bad('employee_id,email,mail\nE1,a@x,b@x\n')).toMatch(/columns "email" and "mail" both map to emails\[work\]/);
    expect(bad('employee_id,email\nE1,"a@x\n')).toMatch(/the CSV cannot be read/);
    expect(bad('employee_id,email\nE1\n')).toMatch(/line 2: 1 fields, the header has 2/);
    expect(bad('')).toMatch(/empty/);
    expect(bad('employee_id,email\nE1,a@x\n', { mapping: { email: 'emails[type eq "x"]' } })).toMatch(/is not an attribute/);
  });
});

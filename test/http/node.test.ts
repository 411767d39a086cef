/** http/node.ts: a Node request's body read under a limit, and its target split below the SCIM root. */
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ScimError } from '../../src/core/errors.js';
import { readNodeBody, splitTarget } from '../../src/http/node.js';

const failure = (promise: Promise<unknown>) => promise.then(() => { throw new Error('resolved'); }, (e: unknown) => e as ScimError & { statusCode?: number });

describe('readNodeBody', () => {
  it('decodes the whole body once, so a character split across chunks survives', async () => {
    const bytes = Buffer.from('{"userName":"zoë"}');
    const split = bytes.indexOf(Buffer.from('ë')) + 1; // between the two bytes of ë
    const chunks = [bytes.subarray(0, split), bytes.subarray(split)];
    expect(await readNodeBody(Readable.from(chunks), { 'content-length': String(bytes.length) }, 100)).toBe('{"userName":"zoë"}');
    expect(await readNodeBody(Readable.from([]), {}, 100)).toBe('');
  });

  it('refuses a body whose Content-Length is over the limit without reading it', async () => {
    const stream = new PassThrough();
    const e = await failure(readNodeBody(stream, { 'content-length': '101' }, 100));
    expect([e.status, e.scimType, e.detail]).toEqual([413, 'tooLarge', 'The request body is larger than the limit of 100 bytes.']);
    expect(stream.readableFlowing).toBe(null);
  });

  it('stops reading once more than the limit has arrived (chunked: no Content-Length)', async () => {
    const stream = new PassThrough();
    const read = failure(readNodeBody(stream, { 'transfer-encoding': 'chunked' }, 100));
    stream.write('x'.repeat(60));
    stream.write('x'.repeat(60));
    const e = await read;
    expect([e.status, e.scimType]).toEqual([413, 'tooLarge']);
    expect(stream.listenerCount('data')).toBe(0);
  });

  it('refuses a body that is not as long as its Content-Length says', async () => {
    for (const length of ['4', '6', '']) {
      const e = await failure(readNodeBody(Readable.from([Buffer.from('hello')]), { 'content-length': length }, 100));
      expect([e.status, e.detail], length).toEqual([400, 'The Content-Length header does not match the body.']);
    }
  });

  it('a stream error rejects with that error, as a 400 unless it says otherwise', async () => {
    const stream = new PassThrough();
    const read = failure(readNodeBody(stream, {}, 100));
    stream.destroy(new Error('aborted'));
    const e = await read;
    expect([e.message, e.statusCode]).toEqual(['aborted', 400]);
  });
});

describe('splitTarget', () => {
  it.each([
    ['/scim/v2/Users/a%2Fb?filter=x&count=1', 2, '/Users/a%2Fb', 'filter=x&count=1'],
    ['/scim/v2', 2, '', ''],
    ['/scim/v2/', 2, '/', ''],
    ['/scim/v2?attributes=a/b', 2, '', 'attributes=a/b'],
    ['/SCIM/V2/Users', 2, '/Users', ''],
    ['/scim/v2/Users#x=1', 2, '/Users', 'x=1'],
    ['/Users?x', 0, '/Users', 'x'],
    ['http://h.test/scim/v2/Users?x', 2, '/Users', 'x'],
  ])('%s below %i segments → %s ? %s', (url, depth, path, query) => {
    expect(splitTarget(url, depth)).toEqual({ path, query });
  });
});

/**
 * What every adapter on Node's HTTP server needs to hand the SCIM handler a plain request: the request target split
 * into the path below the SCIM root and the query, and the body read from the request stream under a byte limit.
 * Used by the Fastify plugin; a `node:http` or Express adapter uses the same two functions.
 */
import type { Readable } from 'node:stream';
import { bodyErrors } from './errors.js';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** A body stream that decodes what arrived (e.g. gunzip in a Fastify preParsing hook) may say how much did. */
type BodyStream = Readable & { receivedEncodedLength?: number };

/**
 * Reads a request body as UTF-8 text ('' when empty). Refuses it with 413 when Content-Length announces more than
 * `limit` bytes (nothing is read) or once more than `limit` bytes have arrived (reading stops: answer with
 * `connection: close`, the client may still be sending), and with 400 when the bytes received are not the
 * Content-Length. A stream error rejects with that error, as a 400 unless it says otherwise. Fastify's rules.
 */
export function readNodeBody(stream: BodyStream, headers: Headers, limit: number): Promise<string> {
  const contentLength = Number(headers['content-length']);
  if (contentLength > limit) return Promise.reject(bodyErrors.tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const stop = () => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onEnd);
    };
    function onData(chunk: Buffer | string) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += bytes.length;
      // what the body decodes to counts, and so does what was sent to make it (a small gzip can hide a large body)
      if (received > limit || (stream.receivedEncodedLength ?? 0) > limit) {
        stop();
        reject(bodyErrors.tooLarge(limit));
        return;
      }
      chunks.push(bytes);
    }
    function onEnd(err?: Error & { statusCode?: number }) {
      stop();
      if (err) {
        if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
        reject(err);
        return;
      }
      if (!Number.isNaN(contentLength) && (stream.receivedEncodedLength || received) !== contentLength) {
        reject(bodyErrors.contentLengthMismatch());
        return;
      }
      // decoded whole, so that a character split across chunks survives
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, received).toString('utf8'));
    }
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onEnd);
    stream.resume();
  });
}

/**
 * Splits a request target as Node received it (`req.url`) into the path below the first `depth` segments (the
 * mount point, e.g. 2 for `/scim/v2`), still percent-encoded, and the query. As Fastify's router does, the path
 * ends at the first `?` or `#` and everything after that character is the query.
 */
export function splitTarget(url: string, depth: number): { path: string; query: string } {
  let target = url;
  if (target.charCodeAt(0) !== 47 /* / */) {
    // absolute form (`GET http://host/scim/v2/Users`): the path starts after the authority
    const authority = /^[a-z][a-z\d+.-]*:\/\/[^/?#]*/i.exec(target);
    if (authority) target = `/${target.slice(authority[0].length).replace(/^\//, '')}`;
  }
  let end = target.length;
  for (let i = 1; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) {
      end = i;
      break;
    }
  }
  const query = end < target.length ? target.slice(end + 1) : '';
  let start = 0;
  for (let i = 0; i < depth && start !== -1; i++) start = target.indexOf('/', start + 1);
  const path = start === -1 || start >= end ? '' : target.slice(start, end);
  return { path, query };
}

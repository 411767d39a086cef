/**
 * The one normalization point for identity-provider dialects: a token's dialect (set by `scimd token create
 * --dialect`) decides, per request, the few PATCH behaviours where an IdP contradicts RFC 7644. Tolerances that cannot
 * change a valid request's meaning are not here: they apply to every client (operations.ts, apply.ts, tolerance.ts).
 */
import type { Dialect } from '../tokens.js';
import { RFC_RULES, type PatchRules } from './apply.js';

export interface DialectRules {
  readonly patch: PatchRules;
  /** What a successful PATCH answers when the request asks for no attributes: the resource (200) or 204. */
  readonly patchResponse: 'resource' | 'noContent';
}

const RFC: DialectRules = { patch: RFC_RULES, patchResponse: 'resource' };

export const DIALECT_RULES: Readonly<Record<Dialect, DialectRules>> = {
  rfc: RFC,
  // Microsoft Entra ID: `replace`/`add` on emails[type eq "work"].value with no work email creates it, and its
  // provisioning service expects 204 from PATCH (learn.microsoft.com, "Develop a SCIM endpoint", Update User).
  entra: { patch: { unmatchedFilter: 'create' }, patchResponse: 'noContent' },
  // No documented contradiction of the RFC is handled for these yet: they follow it.
  okta: RFC,
  google: RFC,
  onelogin: RFC,
  jumpcloud: RFC,
  ping: RFC,
};

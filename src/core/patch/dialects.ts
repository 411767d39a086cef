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
  // Microsoft Entra ID maps its mail attribute to emails[type eq "work"].value and sends `Replace` (or `Add`) on that
  // path whatever the user holds (learn.microsoft.com, "Tutorial: Develop and plan provisioning for a SCIM endpoint",
  // Update User [Multi-valued properties]); with no work email yet it expects the value created, where RFC 7644
  // §3.5.2.3 says noTarget. "Update to the group PATCH request should yield an HTTP 204 No Content" (same page,
  // Group Operations), and "it isn't necessary to include the entire resource in the PATCH response" (General).
  entra: { patch: { unmatchedFilter: 'create' }, patchResponse: 'noContent' },
  // No documented contradiction of the RFC is handled for these yet: they follow it.
  okta: RFC,
  google: RFC,
  onelogin: RFC,
  jumpcloud: RFC,
  ping: RFC,
};

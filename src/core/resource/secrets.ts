/**
 * writeOnly attributes (`password`, and any custom one) are stored only as salted scrypt hashes and never returned
 * (RFC 7643 §4.1.1: "the cleartext value … SHALL NOT be returned").
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { AttributeDefinition } from '../schema/attribute.js';
import type { ResourceType } from '../schema/registry.js';
import type { Attributes } from '../model.js';

const PARAMS = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function scrypt(secret: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(secret, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt, KEY_LENGTH, PARAMS);
  return `$scrypt$N=${PARAMS.N},r=${PARAMS.r},p=${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const m = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([^$]+)\$([^$]+)$/.exec(stored);
  if (!m) return false;
  const expected = Buffer.from(m[5]!, 'base64');
  const key = await scrypt(secret, Buffer.from(m[4]!, 'base64'), expected.length, {
    N: Number(m[1]), r: Number(m[2]), p: Number(m[3]),
  });
  return timingSafeEqual(key, expected);
}

/**
 * Hashes every writeOnly value the client sent; one it omitted keeps its stored hash (a PUT from Okta carries no
 * password and must not erase it).
 */
export async function protectSecrets(rt: ResourceType, attrs: Attributes, existing?: Attributes): Promise<void> {
  const visit = async (defs: readonly AttributeDefinition[], next: Attributes, old: Attributes | undefined) => {
    for (const def of defs) {
      if (def.mutability !== 'writeOnly') continue;
      const value = next[def.name];
      if (typeof value === 'string') next[def.name] = await hashSecret(value);
      else if (value === undefined && old?.[def.name] !== undefined) next[def.name] = old[def.name];
    }
  };
  await visit(rt.schema.attributes, attrs, existing);
  for (const ext of rt.extensions) {
    const next = attrs[ext.schema.id] as Attributes | undefined;
    if (next) await visit(ext.schema.attributes, next, existing?.[ext.schema.id] as Attributes | undefined);
  }
}

/** Visits every writeOnly attribute that has a stored value, with its holder object and its key in `removed` sets. */
function eachSecret(rt: ResourceType, attrs: Attributes, visit: (holder: Attributes, name: string, key: string, extension?: string) => void): void {
  for (const def of rt.schema.attributes) if (def.mutability === 'writeOnly' && attrs[def.name] !== undefined) visit(attrs, def.name, `:${def.name}`);
  for (const ext of rt.extensions) {
    const values = attrs[ext.schema.id] as Attributes | undefined;
    if (!values) continue;
    for (const def of ext.schema.attributes) {
      if (def.mutability === 'writeOnly' && values[def.name] !== undefined) visit(values, def.name, `${ext.schema.id}:${def.name}`, ext.schema.id);
    }
  }
}

/** The stored attributes without writeOnly values: hashes must not pass through the PATCH engine as values. */
export function withoutSecrets(rt: ResourceType, attrs: Attributes): Attributes {
  const out = structuredClone(attrs);
  eachSecret(rt, out, (holder, name) => delete holder[name]);
  return out;
}

/** Only the stored hashes, less those a PATCH removed (keys as in PatchOutcome.removedSecrets), to carry over. */
export function storedSecrets(rt: ResourceType, attrs: Attributes, removed: ReadonlySet<string>): Attributes {
  const out: Attributes = {};
  eachSecret(rt, attrs, (holder, name, key, extension) => {
    if (removed.has(key)) return;
    const target = extension ? ((out[extension] as Attributes | undefined) ?? (out[extension] = {})) : out;
    target[name] = holder[name];
  });
  return out;
}

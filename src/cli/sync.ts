/**
 * `scimd sync SOURCE --url URL --token T`: makes a SCIM server hold what a CSV export, a file of SCIM resources or
 * another SCIM server says, changing only what differs (src/sync). The summary goes to stdout (with --dry-run the
 * plan before it; with --json as JSON), progress to stderr: a bar on a terminal, a line now and then elsewhere.
 * Exit code 0 when every change was made, 1 when one failed or the source cannot be read (then nothing changed),
 * 2 for wrong words, 130 when stopped by SIGINT (after the requests under way).
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { ScimClient, ScimClientError, ScimTransportError } from '../client/index.js';
import { ON_MISSING, planText, rateLimiter, readCsv, readResources, readScimSource, summaryText, sync, SyncInputError, type Desired, type OnMissing, type Progress } from '../sync/index.js';
import { bearerToken, parse, UsageError, type Io } from './args.js';

const OPTIONS = {
  url: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, from: { type: 'string' }, 'from-token': { type: 'string' }, 'from-token-file': { type: 'string' },
  match: { type: 'string' }, map: { type: 'string' }, 'department-groups': { type: 'boolean' },
  'on-missing': { type: 'string' }, 'allow-empty': { type: 'boolean' }, 'dry-run': { type: 'boolean' },
  rps: { type: 'string' }, 'no-bulk': { type: 'boolean' }, concurrency: { type: 'string' }, json: { type: 'boolean' },
} as const;

const isUrl = (s: string | undefined) => s !== undefined && /^https?:\/\/[^/]/i.test(s);

/** `--map`: a JSON file of { "Column": "attribute" }, or `Column=attribute,Other Column=attribute`. */
export function readMapping(value: string): Record<string, string> {
  if (/\.json$/i.test(value) || existsSync(value)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(value, 'utf8'));
    } catch (e) {
      throw new UsageError(`--map ${value}: ${(e as Error).message}`, 'sync');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === 'string')) {
      throw new UsageError(`--map ${value}: the file must be a JSON object of column → attribute`, 'sync');
    }
    return parsed as Record<string, string>;
  }
  const mapping: Record<string, string> = {};
  for (const pair of value.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--map: "${pair}" is not COLUMN=ATTRIBUTE`, 'sync');
    mapping[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return mapping;
}

function positiveNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number; got "${value}"`, 'sync');
  return n;
}

/** Progress on stderr: a bar redrawn in place on a terminal, else a line at most every second. */
export function progressWriter(err: NodeJS.WritableStream): { update(p: Progress): void; end(): void } {
  const tty = (err as { isTTY?: boolean }).isTTY === true;
  let last = 0;
  let drawn = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < (tty ? 100 : 1000) && p.done < p.total) return;
      last = now;
      const failed = p.failed > 0 ? `, ${p.failed} failed` : '';
      if (tty) {
        const width = 30;
        const filled = p.total === 0 ? width : Math.round((p.done / p.total) * width);
        err.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${p.done}/${p.total} changes${failed}  `);
        drawn = true;
      } else {
        err.write(`scimd sync: ${p.done}/${p.total} changes${failed}\n`);
      }
    },
    end() {
      if (drawn) err.write('\n');
    },
  };
}

async function readSource(source: string | undefined, values: { from?: string; 'from-token'?: string; match?: string; map?: string; 'department-groups'?: boolean }): Promise<Desired> {
  const match = values.match ?? 'externalId';
  if (values.from !== undefined) {
    const from = new ScimClient({ baseUrl: values.from, ...(values['from-token'] ? { credentials: { bearer: values['from-token'] } } : {}), pageSize: 1000 });
    return readScimSource(from, { match });
  }
  let text: string;
  try {
    text = readFileSync(source!, 'utf8');
  } catch (e) {
    throw new SyncInputError(`cannot read ${source}: ${(e as Error).message}`);
  }
  const ext = extname(source!).toLowerCase();
  const json = ext === '.json' || ext === '.ndjson' || ext === '.jsonl' || (ext !== '.csv' && /^\s*[[{]/.test(text));
  if (json) {
    if (values.map !== undefined || values['department-groups']) throw new UsageError('--map and --department-groups are for a CSV source', 'sync');
    return readResources(text, { match });
  }
  return readCsv(text, { match, ...(values.map !== undefined ? { mapping: readMapping(values.map) } : {}), ...(values['department-groups'] ? { departmentGroups: true } : {}) });
}

export async function syncCommand(args: string[], io: Io): Promise<number> {
  const parsed = parse('sync', args, OPTIONS, { min: 0, max: 1 }, io);
  if (!parsed) return 0;
  const { values, positionals: [source] } = parsed;
  if ((source === undefined) === (values.from === undefined)) throw new UsageError('sync needs one source: a CSV or JSON file, or --from URL (another SCIM server)', 'sync');
  if (values.from !== undefined && !isUrl(values.from)) throw new UsageError(`--from must be an http:// or https:// URL; got "${values.from}"`, 'sync');
  if (!isUrl(values.url)) throw new UsageError(`sync needs --url: the target's SCIM base URL (http:// or https://)${values.url ? `; got "${values.url}"` : ''}`, 'sync');
  const token = bearerToken('sync', values.token, values['token-file']);
  if (token === undefined) throw new UsageError('sync needs the bearer token of the target: --token T or --token-file FILE', 'sync');
  const fromToken = bearerToken('sync', values['from-token'], values['from-token-file'], undefined, 'from-token');
  const onMissing = (values['on-missing'] ?? 'deactivate') as OnMissing;
  if (!ON_MISSING.includes(onMissing)) throw new UsageError(`--on-missing must be one of ${ON_MISSING.join(', ')}; got "${values['on-missing']}"`, 'sync');
  if (values.match !== undefined && !/^[A-Za-z][\w-]*$/.test(values.match)) throw new UsageError(`--match must name a top-level attribute such as externalId or userName; got "${values.match}"`, 'sync');
  const rps = positiveNumber('rps', values.rps);
  const concurrency = positiveNumber('concurrency', values.concurrency);

  // every request to the target waits its turn, the reads of its state and retries included
  const wait = rateLimiter(rps);
  const limited: typeof fetch = async (input, init) => {
    await wait();
    return fetch(input, init);
  };
  const target = new ScimClient({ baseUrl: values.url!, credentials: { bearer: token }, pageSize: 1000, ...(rps !== undefined ? { fetch: limited } : {}) });
  const controller = new AbortController();
  const stop = () => {
    io.err.write('\nscimd sync: stopping: no new requests; waiting for those under way\n');
    controller.abort();
  };
  const progress = progressWriter(io.err);
  process.once('SIGINT', stop);
  let result;
  try {
    const desired = await readSource(source, { ...values, ...(fromToken !== undefined ? { 'from-token': fromToken } : {}) });
    result = await sync({
      target, source: desired, onMissing,
      ...(values.match !== undefined ? { match: values.match } : {}),
      ...(values['allow-empty'] ? { allowEmpty: true } : {}),
      ...(values['dry-run'] ? { dryRun: true } : {}),
      ...(values['no-bulk'] ? { bulk: false } : {}),
      ...(concurrency !== undefined ? { concurrency: Math.floor(concurrency) } : {}),
      signal: controller.signal,
      onProgress: (p) => progress.update(p),
    });
  } catch (e) {
    if (e instanceof SyncInputError) {
      io.err.write(`scimd sync: ${e.message}\n`);
      return 1;
    }
    if (e instanceof ScimClientError || e instanceof ScimTransportError) {
      io.err.write(`scimd sync: nothing was changed: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    process.off('SIGINT', stop);
    progress.end();
  }
  const { plan, summary } = result;
  if (values.json) io.out.write(`${JSON.stringify(values['dry-run'] ? { ...summary, changes: plan.changes } : summary, null, 2)}\n`);
  else io.out.write(`${values['dry-run'] ? planText(plan) : ''}${summaryText(summary)}`);
  if (summary.interrupted) return 130;
  return summary.failures.length > 0 ? 1 : 0;
}

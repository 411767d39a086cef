/**
 * `scimd check URL --token T` (or --token-file, or SCIMD_CHECK_TOKEN): the conformance checker (src/check) against any SCIM server, as a scored report.
 * Exit code 0 when no check failed, 1 when one did (or a resource it made could not be removed), 130 when stopped
 * by SIGINT (after removing what it made).
 */
import { writeFileSync } from 'node:fs';
import { CHECKS } from '../check/checks.js';
import { junitReport, score, textReport } from '../check/report.js';
import { IDPS, runChecks, selected, type Idp } from '../check/run.js';
import { bearerToken, parse, UsageError, type Io } from './args.js';

export async function check(args: string[], io: Io): Promise<number> {
  const parsed = parse('check', args, { token: { type: 'string' }, 'token-file': { type: 'string' }, idp: { type: 'string' }, json: { type: 'boolean' }, junit: { type: 'string' }, only: { type: 'string' } }, { min: 1, max: 1 }, io);
  if (!parsed) return 0;
  const { values, positionals: [url] } = parsed;
  if (!/^https?:\/\/[^/]/i.test(url!)) throw new UsageError(`the server's SCIM base URL must be an http:// or https:// URL; got "${url}"`, 'check');
  const token = bearerToken('check', values.token, values['token-file'], { name: 'SCIMD_CHECK_TOKEN', value: process.env.SCIMD_CHECK_TOKEN });
  if (token === undefined) throw new UsageError('check needs the bearer token of the server to check: --token T, --token-file FILE or SCIMD_CHECK_TOKEN', 'check');
  const idp = (values.idp ?? 'rfc') as Idp;
  if (!IDPS.includes(idp)) throw new UsageError(`--idp must be one of ${IDPS.join(', ')}; got "${values.idp}"`, 'check');
  const only = values.only?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (only !== undefined && selected(CHECKS, idp, only).length === 0) {
    // every check of this --idp, those run only when named (groups.scale) too
    const ids = selected(CHECKS, idp, CHECKS.map((c) => c.id)).map((c) => c.id);
    throw new UsageError(`--only ${values.only} names no check; checks: ${ids.join(', ')}`, 'check');
  }
  const controller = new AbortController();
  const stop = () => {
    io.err.write('scimd check: stopping after the check under way; removing the resources it made\n');
    controller.abort();
  };
  process.once('SIGINT', stop);
  let report;
  try {
    report = await runChecks(CHECKS, { url: url!, token, idp, ...(only ? { only } : {}), signal: controller.signal });
  } finally {
    process.off('SIGINT', stop);
  }
  io.out.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : textReport(report));
  if (values.junit !== undefined) writeFileSync(values.junit, junitReport(report));
  if (values.json) io.err.write(`scimd check: ${score(report)}\n`);
  if (controller.signal.aborted) return 130;
  return report.failed > 0 || report.leftBehind.length > 0 ? 1 : 0;
}

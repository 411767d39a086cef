/** A conformance report as text for a terminal, and as JUnit XML for CI (JSON is the report itself). */
import type { CheckResult, Report } from './run.js';

const LABEL: Record<CheckResult['outcome'], string> = { passed: 'passed', failed: 'FAILED', 'not supported': 'not supported' };

const indent = (text: string, by: string) => text.split('\n').map((l) => `${by}${l}`).join('\n');

export function score(report: Report): string {
  const run = report.passed + report.failed;
  return `${report.passed} of ${run} passed, ${report.failed} failed, ${report.notSupported} not supported`;
}

export function textReport(report: Report): string {
  const lines = [`scimd check ${report.server} (--idp ${report.idp})`, ''];
  for (const r of report.results) {
    lines.push(`${LABEL[r.outcome].padEnd(13)}  ${r.id}: ${r.title} [${r.rfc}]`);
    if (r.outcome === 'not supported') lines.push(`               ${r.reason}`);
    if (r.outcome === 'failed') {
      lines.push(`               why: ${r.reason}`);
      for (const x of r.exchanges) lines.push(indent(`sent: ${x.sent}`, '               '), indent(`received: ${x.received}`, '               '));
    }
  }
  lines.push('', `score: ${score(report)}`);
  if (report.leftBehind.length > 0) lines.push(`left behind (the server refused to delete them): ${report.leftBehind.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

/** Text as XML character data: markup escaped, and characters XML 1.0 cannot hold dropped. */
function xml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function junitReport(report: Report): string {
  const cases = report.results.map((r) => {
    const head = `    <testcase classname="${xml(r.id.split('.')[0]!)}" name="${xml(`${r.id}: ${r.title} [${r.rfc}]`)}">`;
    const exchanges = r.exchanges.map((x) => `sent: ${x.sent}\nreceived: ${x.received}`).join('\n\n');
    if (r.outcome === 'passed') return `${head}</testcase>`;
    if (r.outcome === 'not supported') return `${head}<skipped message="${xml(r.reason ?? '')}"/></testcase>`;
    return `${head}\n      <failure message="${xml(r.reason ?? '')}">${xml(exchanges)}</failure>\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="scimd check" tests="${report.results.length}" failures="${report.failed}" skipped="${report.notSupported}">`,
    `  <testsuite name="${xml(report.server)}" tests="${report.results.length}" failures="${report.failed}" skipped="${report.notSupported}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

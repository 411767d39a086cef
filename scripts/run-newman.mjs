#!/usr/bin/env node
// Runs Microsoft's SCIM Postman collection (../shared/conformance/azure) with newman against a live server and
// prints one "PASS label" / "FAIL label (why)" line per assertion, like the other conformance runners.
// The "Get Token" folder is left out: it would replace the bearer token.
import newman from 'newman';

const args = process.argv.slice(2);
const opt = (name) => args[args.indexOf(name) + 1];
const base = new URL(opt('--base'));
const FOLDERS = ['Endpoint tests', 'User tests', 'Group tests', 'ComplexAttribute tests', 'User tests with garbage', 'Group tests with garbage', 'Teardown garbage'];

newman.run(
  {
    collection: opt('--collection'),
    folder: FOLDERS,
    environment: {
      values: [
        { key: 'Protocol', value: base.protocol.replace(':', '') },
        { key: 'Server', value: base.hostname },
        { key: 'Port', value: `:${base.port}` },
        { key: 'Api', value: base.pathname.replace(/^\//, '') },
        { key: 'token', value: opt('--token') },
      ],
    },
    reporters: [],
  },
  (err, summary) => {
    if (err) {
      console.log(`FAIL newman: ${err.message}`);
      process.exit(1);
    }
    let passed = 0;
    let failed = 0;
    for (const execution of summary.run.executions) {
      const request = execution.item.name;
      if (execution.requestError) {
        failed++;
        console.log(`FAIL ${request} :: request (${execution.requestError.message})`);
      }
      for (const a of execution.assertions ?? []) {
        if (a.error) {
          failed++;
          console.log(`FAIL ${request} :: ${a.assertion} (${a.error.message})`);
        } else {
          passed++;
          console.log(`PASS ${request} :: ${a.assertion}`);
        }
      }
    }
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  },
);

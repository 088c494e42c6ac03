'use strict';
/**
 * Shared by the ali-ons child scripts (producer.js, consumer.js): the JSON-lines printer, a logger that
 * keeps only warnings and errors, the options every client gets, and the fatal-error exit.
 */
const httpclient = require('urllib');

function print(obj) {
  process.stdout.write(JSON.stringify(Object.assign({ t: Date.now() }, obj)) + '\n');
}

const logger = {
  info() {},
  debug() {},
  warn(...args) {
    process.stderr.write('[ali-ons warn] ' + args.map(String).join(' ') + '\n');
  },
  error(...args) {
    process.stderr.write('[ali-ons error] ' + args.map((a) => (a && a.stack) || String(a)).join(' ') + '\n');
  },
};

/** The JSON config in argv[2]; throws unless every key in `required` is set. */
function readConfig(required) {
  const cfg = JSON.parse(process.argv[2] || '{}');
  if (required.some((k) => !cfg[k])) throw new Error('config needs ' + required.join(', '));
  return cfg;
}

/** Options common to Producer and Consumer; callers add their group and their own settings. */
function clientOptions(cfg) {
  return { httpclient, nameSrv: cfg.nameSrv, accessKeyId: 'rocketry-test', accessKeySecret: 'rocketry-test', logger };
}

/** Runs the script's main; any escaped error is printed as a `fatal` event and exits 1. */
function run(main) {
  main().catch((err) => {
    print({ event: 'fatal', error: String((err && err.stack) || err) });
    process.exit(1);
  });
}

module.exports = { print, readConfig, clientOptions, run };

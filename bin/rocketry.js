#!/usr/bin/env node
// Runs the CLI from broker/dist/rocketry-cli.cjs, an esbuild bundle of broker/src rebuilt here whenever a
// source file is newer, so `npm start` needs no build step. The bundle spares the hot path tsx's
// per-import module getters (~5% of broker CPU). Without esbuild, or with ROCKETRY_NO_BUNDLE=1, the
// TypeScript runs through tsx.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const sourceDir = path.join(root, 'broker', 'src');
const entry = path.join(sourceDir, 'cli', 'main.ts');
// Inside broker/ so bare imports resolve as they do for the sources (broker/node_modules first).
const bundle = path.join(root, 'broker', 'dist', 'rocketry-cli.cjs');

/** Newest mtime under dir (bounded: the broker tree is a few hundred files). */
function newestMtimeMs(dir) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtimeMs(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

function isFresh() {
  try {
    return fs.statSync(bundle).mtimeMs >= newestMtimeMs(sourceDir);
  } catch {
    return false;
  }
}

/** Builds the bundle; written under a temporary name and renamed, so concurrent starts never read half a file. */
function build() {
  const esbuild = require('esbuild');
  const out = esbuild.buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    write: false,
    logLevel: 'silent',
  });
  fs.mkdirSync(path.dirname(bundle), { recursive: true });
  const tmp = `${bundle}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, out.outputFiles[0].contents);
  fs.renameSync(tmp, bundle);
}

function bundledCli() {
  if (process.env.ROCKETRY_NO_BUNDLE === '1') return undefined;
  if (isFresh()) return bundle;
  try {
    build();
    return bundle;
  } catch (err) {
    process.emitWarning(`rocketry: running through tsx, the bundle could not be built (${err.message})`);
    return undefined;
  }
}

const cli = bundledCli();
if (cli) {
  require(cli);
} else {
  require('tsx/cjs/api').register();
  require(entry);
}

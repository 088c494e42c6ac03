#!/usr/bin/env node
// Runs the TypeScript CLI through tsx so `npx rocketry` works from a fresh clone without a build step.
'use strict';
const { register } = require('tsx/cjs/api');
register();
require('../broker/src/cli/main.ts');

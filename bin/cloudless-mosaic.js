#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so the command works straight from a checkout after `npm install`.
require('tsx/cjs/api').register();
require('../src/cli/cloudless-mosaic.ts').cli(process.argv.slice(2));

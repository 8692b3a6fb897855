#!/usr/bin/env node
// MHA's masterha_stop, run by mhats (src/cli/mha.ts).
import { mhaMain } from '../mha.js';

mhaMain('masterha_stop').then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);

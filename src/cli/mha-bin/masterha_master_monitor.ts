#!/usr/bin/env node
// MHA's masterha_master_monitor, run by mhats (src/cli/mha.ts).
import { mhaMain } from '../mha.js';

mhaMain('masterha_master_monitor').then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);

#!/usr/bin/env node
// MHA's masterha_master_switch, run by mhats (src/cli/mha.ts).
import { mhaMain } from '../mha.js';

mhaMain('masterha_master_switch').then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);

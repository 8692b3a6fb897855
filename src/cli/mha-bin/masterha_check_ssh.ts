#!/usr/bin/env node
// MHA's masterha_check_ssh, run by mhats (src/cli/mha.ts).
import { mhaMain } from '../mha.js';

mhaMain('masterha_check_ssh').then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);

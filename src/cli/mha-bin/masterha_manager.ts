#!/usr/bin/env node
// MHA's masterha_manager, run by mhats (src/cli/mha.ts).
import { mhaMain } from '../mha.js';

mhaMain('masterha_manager').then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);

import { loadConfig } from '../src/config/load.js';
const t = performance.now();
const c = await loadConfig({ conf: process.argv[2]! });
console.log(process.argv[2], c.clusters.length, Math.round(performance.now() - t), 'ms');

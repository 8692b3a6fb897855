/**
 * The whole fault matrix (npm run drill:matrix): every case a drill on a fresh
 * netns sandbox with real managers, each asserting the drill's invariants.
 * MHATS_DRILL_CASES=crash,hang runs a subset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MATRIX_CASES, MATRIX_EXPECTED, runMatrixCase } from '../../src/app/drill/matrix.js';
import { renderDrill } from '../../src/render/drill.js';
import { netnsAvailable } from '../helpers/netns.js';
import { drillEnv, guardCase } from '../helpers/drill.js';

const only = process.env.MHATS_DRILL_CASES?.split(',').map((s) => s.trim()).filter(Boolean);
const cases = MATRIX_CASES.filter((c) => only === undefined || only.includes(c));

for (const c of cases) {
  test(`${c}: ${MATRIX_EXPECTED[c]}`, { skip: !netnsAvailable() && 'needs root and iproute2', timeout: 400_000 }, async () => {
    const lines: string[] = [];
    const env = drillEnv({ tag: 'mhats-t-xe', subnet: '10.213.55', sshPort: 2344 }, lines);
    guardCase(env, c);
    const r = await runMatrixCase(c, env);
    assert.equal(r.ok, true, `${renderDrill(r)}\n--- drill log ---\n${lines.slice(-50).join('\n')}`);
  });
}

/**
 * The web console in a real headless Chromium (Debian's, driven by
 * playwright-core) against a running manager over a sandbox: the page shows
 * the master and both replicas; after the master is killed it shows the new
 * master and the failover's timeline without a reload (within 2 s of the API);
 * the old master, restarted, rejoins from the page (dry run, then rejoin);
 * a switchover from the page (dry run, token, confirmation, progress) moves
 * the master back. Screenshots are kept in
 * test-artifacts/console/ (MHATS_ARTIFACTS overrides); with
 * MHATS_UPDATE_DOCS_SCREENSHOT=1 the last one also becomes docs/console.png.
 * Without Chromium the tests are skipped, with one line saying so.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { rootSql, startServer, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { TEST_ROOT, withSandbox } from '../helpers/sandbox.js';
import { API_TOKEN, call, startApiManager, waitFor, type ApiManager } from '../helpers/api.js';
import type { Topology } from '../../src/adapters/http/api-schemas.js';

const CHROMIUM = process.env.MHATS_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here (no Chromium, or one that does not start, e.g. Ubuntu's snap shim), or false. */
function chromiumMissing(): string | false {
  const how = 'apt-get install chromium, or set MHATS_CHROMIUM';
  if (!existsSync(CHROMIUM)) return `Chromium not installed (${CHROMIUM}; ${how}): console browser tests skipped`;
  const v = spawnSync(CHROMIUM, ['--headless', '--no-sandbox', '--version'], { encoding: 'utf8', timeout: 20_000 });
  if (v.status !== 0 || !/\d+\.\d+/.test(v.stdout)) {
    const said = (v.stderr || v.stdout || '').trim().split('\n')[0] ?? '';
    const why = v.error?.message ?? (v.signal ? `killed by ${v.signal}` : `exit ${v.status ?? '?'}${said ? `: ${said}` : ''}`);
    return `Chromium at ${CHROMIUM} does not run (${why}; ${how}): console browser tests skipped`;
  }
  return false;
}
const SKIP = chromiumMissing();
const ARTIFACTS = resolve(process.env.MHATS_ARTIFACTS ?? 'test-artifacts/console');
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Without Chromium: one skipped test, its line saying why (and counted in the summary's "skipped").
if (SKIP) test('the web console in headless Chromium', { skip: SKIP }, () => undefined);
else describe('the web console in headless Chromium', () => {
  let sb: SandboxInfo;
  let am: ApiManager;
  let ctx: BrowserContext;
  let page: Page;
  let profile: string;
  const shots: string[] = [];
  const pageErrors: string[] = [];

  const shot = async (name: string): Promise<void> => {
    const f = join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path: f, fullPage: true });
    shots.push(f);
  };
  const topology = async (): Promise<Topology> => (await call<Topology>(am.url, 'GET', '/api/v1/clusters/sandbox/topology')).json;
  const masterOnPage = async (): Promise<string> => (await page.getByTestId('master-name').first().textContent()) ?? '';

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    sb = await withSandbox(undefined, { name: 'console', baseAddress: '127.0.111.11', replicas: 2, sshPort: 2421, gtid: true });
    am = await startApiManager(sb, { listen: '127.0.111.1:0', slowStart: 1 });
    mkdirSync(TEST_ROOT, { recursive: true });
    profile = mkdtempSync(join(TEST_ROOT, 'chromium-profile-'));
    ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 1000 }, timeout: 60_000 });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  });

  after(async () => {
    await ctx?.close().catch(() => undefined);
    await am?.mgr.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (shots.length > 0) console.log(`# console screenshots: ${shots.join(' ')}`);
  });

  test('the page shows the master and both replicas, the plan, live', async () => {
    await page.goto(am.url, { waitUntil: 'domcontentloaded' });
    await page.locator('[data-testid="node-db1"][data-role="master"]').waitFor({ timeout: 20_000 });
    await page.locator('[data-testid="node-db2"][data-role="replica"]').waitFor();
    await page.locator('[data-testid="node-db3"][data-role="replica"]').waitFor();
    assert.equal(await masterOnPage(), 'db1');
    assert.equal(await page.locator('[data-testid="edge-db1-db2"]').count(), 1);
    assert.equal(await page.locator('[data-testid="edge-db1-db3"]').count(), 1);
    assert.match((await page.getByTestId('plan-headline').textContent()) ?? '', /If the master db1 died now: db[23], because/);
    assert.match((await page.getByTestId('plan-loss').textContent()) ?? '', /^Expected loss: ./);
    assert.equal(await page.locator('[data-testid="plan-steps"] li').count(), 2, 'what the failover would do to db2 and db3');
    await page.locator('[data-testid="link"][data-mode="live"]').waitFor({ timeout: 10_000 });
    // Assets come from the manager alone.
    const external = await page.evaluate<string[]>("performance.getEntriesByType('resource').map((r) => r.name).filter((n) => !n.startsWith(location.origin))");
    assert.deepEqual(external, []);
    await shot('01-initial');
  });

  test('after the master is killed the page shows the new master and the failover timeline, without a reload', async () => {
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    const db1 = sb.servers[0]!;
    await stopServer(db1, 'SIGKILL');
    // When the API first shows the new master, and when the page does: within 2 s of each other.
    const apiSaw = waitFor('the API to show a new master', async () => {
      const t = await topology();
      return t.master !== 'db1' && t.master !== null && !t.in_failover ? { master: t.master, at: Date.now() } : undefined;
    }, 60_000, 50);
    const pageSaw = waitFor('the page to show a new master', async () => {
      const m = await masterOnPage();
      return m === 'db2' || m === 'db3' ? { master: m, at: Date.now() } : undefined;
    }, 60_000, 50);
    const [a, p] = await Promise.all([apiSaw, pageSaw]);
    assert.equal(p.master, a.master);
    assert.ok(p.at - a.at < 2000, `the page showed the new master ${p.at - a.at} ms after the API`);
    const entry = page.locator('[data-testid="history-entry"][data-kind="failover"][data-outcome="success"]');
    await entry.first().waitFor({ timeout: 10_000 });
    assert.ok((await entry.first().getByTestId('phase').count()) >= 4, 'the timeline has a bar per phase');
    assert.match((await entry.first().textContent()) ?? '', /Automatic failover: db1 → db[23]/);
    assert.ok((await entry.first().getByTestId('hook').count()) >= 1, 'the hook outcome is shown');
    await page.locator('[data-testid="node-db1"][data-role="failed"][data-fenced="true"]').waitFor({ timeout: 10_000 });
    assert.deepEqual(navigations, [], 'no reload');
    await shot('02-after-failover');
  });

  test('the old master rejoins from the page, then a switchover from the page moves the master back', async () => {
    const [db1] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    const newMaster = (await topology()).master!;
    const nm = sb.servers.find((s) => s.name === newMaster)!;
    // The operator restarts db1 and rejoins it from the page: a dry run says it can, then it does.
    const restarted = await startServer(db1);
    await waitFor('db1 to answer', async () => ((await rootSql(restarted, 'SELECT 1')).trim() === '1' ? true : undefined), 30_000, 200);
    await page.getByTestId('token-input').fill(API_TOKEN);
    await page.getByTestId('operator-input').fill('browser-test');
    await page.getByTestId('rejoin-check-db1').click();
    await page.locator('[data-testid="rejoin-report"][data-outcome="would_rejoin"]').waitFor({ timeout: 30_000 });
    await page.getByTestId('rejoin-confirm').click();
    await page.locator('[data-testid="rejoin-report"][data-outcome="rejoined"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="node-db1"][data-role="replica"]').waitFor({ timeout: 30_000 });
    assert.equal((await rootSql(restarted, 'SELECT @@read_only')).trim(), '1', 'db1 rejoined read_only');

    await page.getByTestId('switchover-button').click();
    await page.getByTestId('new-master-select').selectOption('db1');
    await page.getByTestId('dry-run-button').click();
    await page.getByTestId('confirm-button').waitFor({ timeout: 20_000 });
    assert.equal(await page.getByTestId('planned-new-master').textContent(), 'db1');
    await shot('03-switchover-plan');
    await page.getByTestId('confirm-button').click();
    await page.locator('[data-testid="job"][data-state="done"]').waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId('job-status').textContent(), 'success');
    await waitFor('the page to show db1 as master', async () => ((await masterOnPage()) === 'db1' ? true : undefined), 10_000, 100);
    assert.equal((await rootSql(restarted, 'SELECT @@read_only')).trim(), '0', 'db1 is the writable master again');
    assert.equal((await rootSql(nm, 'SELECT @@read_only')).trim(), '1');
    await page.locator('[data-testid="history-entry"][data-kind="switchover"][data-outcome="success"]').first().waitFor({ timeout: 10_000 });
    await page.locator(`[data-testid="node-${newMaster}"][data-role="replica"]`).waitFor({ timeout: 10_000 });
    await page.getByTestId('switchover-close').click();
    await shot('04-switched-back');
    if (process.env.MHATS_UPDATE_DOCS_SCREENSHOT === '1') copyFileSync(join(ARTIFACTS, '04-switched-back.png'), resolve('docs/console.png'));
    assert.deepEqual(pageErrors, [], 'no script errors on the page');
  });
});

// The Farm page end to end: server-rendered, hydrated, and live from the event stream.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureArtifacts, launchBrowser, startServer } from '../harness.mjs';

let server; // fast-forwarded: printers change state every few seconds
let still; // nearly frozen: what a click does can be checked exactly
let browser;

before(async () => {
  [server, still, browser] = await Promise.all([
    startServer({ PRINTFARM_DEMO_PRINTERS: '6', PRINTFARM_DEMO_SPEED: '40' }),
    startServer({ PRINTFARM_DEMO_PRINTERS: '6', PRINTFARM_DEMO_SPEED: '0.001' }),
    launchBrowser(),
  ]);
  await server.signIn(browser.context);
  await still.signIn(browser.context);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await still?.stop();
});

async function openFarm(target = server) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
  await page.goto(target.url + '/');
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  return { page, errors };
}

test('the server renders the farm before any script runs', async () => {
  const res = await fetch(server.url + '/');
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /data-testid="printer-card"/);
  assert.match(html, /Ada/);
  assert.match(html, /\/pkg\/printfarm\.wasm/);
  const wasm = await fetch(server.url + '/pkg/printfarm.wasm');
  assert.equal(wasm.status, 200, 'the hydration bundle is served');
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
});

test('the page hydrates: a click filters the printers without a reload', async () => {
  const { page, errors } = await openFarm(still);
  await page.evaluate(() => { window.__sameDocument = true; });
  assert.equal(await page.getByTestId('printer-card').count(), 6);
  const chips = page.getByTestId('filter-chip');
  assert.ok(await chips.count() >= 2, 'an "All" chip and one per state present');

  // Every state chip shows exactly its printers; "All" brings them all back.
  for (let i = 1; i < await chips.count(); i++) {
    const chip = chips.nth(i);
    const text = await chip.textContent();
    const [, label, count] = /^(.*?)(\d+)$/.exec(text);
    await chip.click();
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="printer-card"]').length === n, Number(count));
    assert.equal(await chip.getAttribute('aria-pressed'), 'true');
    const states = await page.$$eval('[data-testid="printer-state"]', (els) => els.map((e) => e.textContent));
    assert.ok(states.every((s) => s === label), `${label}: ${states}`);
  }
  await chips.first().click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="printer-card"]').length === 6);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload happened');
  assert.deepEqual(errors, []);
  await page.close();
});

test('printer status changes arrive live and a screenshot is saved', async () => {
  const { page, errors } = await openFarm();
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.getByTestId('live-indicator').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });

  const snapshot = () => page.$$eval('[data-testid="printer-card"]', (cards) =>
    Object.fromEntries(cards.map((c) => [c.dataset.printerId, c.dataset.state])));
  const before = await snapshot();
  await page.waitForFunction(
    (before) => [...document.querySelectorAll('[data-testid="printer-card"]')]
      .some((c) => before[c.dataset.printerId] !== c.dataset.state),
    before,
    { timeout: 30_000, polling: 100 },
  );
  const afterStates = await snapshot();
  const changed = Object.keys(afterStates).filter((id) => afterStates[id] !== before[id]);
  assert.ok(changed.length > 0, 'some printer changed state');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the change came without a reload');

  const shot = join(ensureArtifacts(), 'farm.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('the layout works on a narrow touch screen', async () => {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 600, height: 960 });
  await page.goto(server.url + '/');
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  const nav = await page.locator('nav.nav').boundingBox();
  assert.ok(nav.y > 800, `the navigation sits at the bottom on narrow screens (y=${nav.y})`);
  for (const link of await page.locator('nav.nav a:not(.brand)').all()) {
    const box = await link.boundingBox();
    assert.ok(box.height >= 44, `touch targets are at least 44 px (got ${box.height})`);
  }
  await page.getByRole('link', { name: 'Queue' }).click();
  await page.waitForURL(server.url + '/queue');
  assert.equal(await page.locator('h1').textContent(), 'Queue');
  await page.screenshot({ path: join(ensureArtifacts(), 'queue-narrow.png') });
  await page.close();
});

test('tiles show the job picture and a live temperature plot; groups filter; the wall display hides the menu', async () => {
  const { page, errors } = await openFarm();
  // The plot gains readings while the page is open (one a second, from the event stream).
  await page.waitForFunction(() => {
    const lines = [...document.querySelectorAll('[data-testid="temp-sparkline"] polyline.hotend')];
    return lines.length > 0 && lines.every((l) => Number(l.dataset.samples) >= 3);
  }, null, { timeout: 20_000 });
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="job-thumbnail"]')]
    .some((img) => img.complete && img.naturalWidth > 0), null, { timeout: 20_000 });

  // Printer groups are the printers' tags: "large" shows only the large ones.
  const groups = await page.getByTestId('group-chip').allTextContents();
  assert.ok(groups.includes('large') && groups.includes('room 1'), groups.join(', '));
  const all = await page.getByTestId('printer-card').count();
  await page.getByTestId('group-chip').filter({ hasText: /^large$/ }).click();
  const large = await page.getByTestId('printer-card').count();
  assert.ok(large > 0 && large < all, `${large} of ${all}`);

  await page.getByTestId('wall-enter').click();
  await page.waitForURL(/\?wall=1$/);
  await page.waitForSelector('.farm.wall');
  assert.equal(await page.locator('nav.nav').isVisible(), false, 'no menu on the wall display');
  await page.screenshot({ path: join(ensureArtifacts(), 'farm-wall.png') });
  await page.getByTestId('wall-exit').click();
  await page.waitForSelector('.farm:not(.wall)');
  assert.ok(await page.locator('nav.nav').isVisible());
  assert.deepEqual(errors, []);
  await page.close();
});

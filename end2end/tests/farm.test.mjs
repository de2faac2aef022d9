// The Farm page end to end: server-rendered, hydrated, and live from the event stream.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureArtifacts, launchBrowser, startServer } from '../harness.mjs';

let server;
let browser;

before(async () => {
  // Fast-forward the simulated printers so state changes come within seconds.
  server = await startServer({ PRINTFARM_DEMO_PRINTERS: '6', PRINTFARM_DEMO_SPEED: '40' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function openFarm() {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(server.url + '/');
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
  const { page, errors } = await openFarm();
  await page.evaluate(() => { window.__sameDocument = true; });
  const cards = page.getByTestId('printer-card');
  assert.equal(await cards.count(), 6);

  // Pick the chip of a state some printers are in, then check the grid shows only those.
  const chip = page.getByTestId('filter-chip').nth(1);
  const label = (await chip.textContent()).replace(/\d+$/, '').trim();
  await chip.click();
  await page.waitForFunction(
    (label) => [...document.querySelectorAll('[data-testid="filter-chip"]')]
      .some((c) => c.getAttribute('aria-pressed') === 'true' && c.textContent.startsWith(label)),
    label,
  );
  // The grid follows the filter (the printers keep changing, so compare against the chip as it is now).
  const states = await page.$$eval('[data-testid="printer-state"]', (els) => els.map((e) => e.textContent));
  const pressed = await page.$eval('[data-testid="filter-chip"][aria-pressed="true"]', (c) => c.textContent.replace(/\d+$/, ''));
  if (pressed !== 'All') assert.ok(states.every((s) => s === pressed), `${states} vs ${pressed}`);
  assert.ok(states.length < 6 || pressed === 'All', 'filtering hid some printers');

  await page.getByTestId('filter-chip').first().click();
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

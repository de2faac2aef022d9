// The "bed cleared" gate on the Farm page: a printer that finished a job shows what it needs and a
// button; pressing it lets the farm give the printer its next job, live, without a reload.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureArtifacts, launchBrowser, startServer } from '../harness.mjs';

let server;
let browser;

before(async () => {
  // Fast-forwarded, so the demo farm's first jobs finish within seconds.
  [server, browser] = await Promise.all([
    startServer({ PRINTFARM_DEMO_PRINTERS: '2', PRINTFARM_DEMO_SPEED: '200' }),
    launchBrowser(),
  ]);
  await server.signIn(browser.context);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function api(path, init = {}) {
  const res = await fetch(server.url + path, {
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  assert.ok(res.ok, `${init.method ?? 'GET'} ${path}: ${res.status} ${await res.clone().text()}`);
  return res.status === 204 ? null : res.json();
}

test('a finished printer waits for "Bed cleared", and the button releases it', async () => {
  const [first] = await api('/api/v1/printers');
  await api(`/api/v1/printers/${first.id}`, { method: 'PATCH', body: JSON.stringify({ require_bed_clear: true }) });

  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(server.url + '/');
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  await page.evaluate(() => { window.__sameDocument = true; });

  const card = page.locator(`[data-testid="printer-card"][data-printer-id="${first.id}"]`);
  const button = card.getByTestId('bed-cleared');
  await button.waitFor({ timeout: 90_000 });
  assert.equal(await card.getByTestId('printer-needs').textContent(), 'Bed needs clearing');
  await page.screenshot({ path: join(ensureArtifacts(), 'bed-needs-clearing.png') });
  assert.equal((await api(`/api/v1/printers/${first.id}`)).printer.bed_clear, false);

  await button.click();
  await button.waitFor({ state: 'detached', timeout: 10_000 });
  assert.equal((await api(`/api/v1/printers/${first.id}`)).printer.bed_clear, true);
  assert.equal(await card.getByTestId('printer-needs').count(), 0);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload happened');
  assert.deepEqual(errors, []);
  await page.close();
});

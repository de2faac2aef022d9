// The whole product in one go, the way a student at the kiosk does it: type a prompt, see the model in 3D,
// make it bigger with the size field, send it to print with a real estimate; the farm gives it to a
// (simulated) printer, the dashboard shows it printing live, and at the end someone clears the bed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { editorPixel, ensureArtifacts, launchBrowser, startServer } from '../harness.mjs';

let server;
let browser;

before(async () => {
  // One printer, fast-forwarded so a print takes seconds.
  [server, browser] = await Promise.all([
    startServer({ PRINTFARM_DEMO_PRINTERS: '1', PRINTFARM_DEMO_SPEED: '300' }),
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
  const text = await res.text();
  assert.ok(res.ok, `${init.method ?? 'GET'} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function until(what, check, ms = 120_000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    assert.ok(Date.now() < end, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('prompt → 3D → resize → send to print → printing live on the dashboard → done → bed cleared', async () => {
  const dir = ensureArtifacts();
  const [printer] = await api('/api/v1/printers');
  // No person has to clear the bed between the demo farm's own jobs; ours will need it (set below).
  await api(`/api/v1/printers/${printer.id}`, { method: 'PATCH', body: JSON.stringify({ require_bed_clear: false }) });

  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  // 1. Create: type a prompt and make it.
  await page.goto(server.url + '/create');
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  await page.getByTestId('prompt').fill('a name tag for Maya');
  await page.getByTestId('make').click();
  const done = page.locator('[data-testid="generation"][data-state="done"]');
  await done.waitFor({ timeout: 60_000 });
  await page.screenshot({ path: join(dir, 'flow-1-created.png') });

  // 2. Straight into the editor: the model is drawn on the bed (pixels read back from WebGL).
  await done.getByTestId('open-editor').click();
  await page.waitForURL(/\/editor\/\d+$/);
  await page.waitForSelector('[data-testid="editor"][data-ready="true"]', { timeout: 30_000 });
  const s = await page.evaluate(() => window.__printfarmEditor.state());
  assert.equal(s.parts.length, 1);
  const px = await page.evaluate(editorPixel, s.parts[0].screen);
  assert.ok(px[2] > px[0] + 50, `the model's colour where the model is, got ${px}`);

  // 3. Select it and make it 60 mm wide with the numeric field.
  const box = await page.locator('[data-testid="editor-canvas"]').boundingBox();
  await page.mouse.click(box.x + s.parts[0].screen[0], box.y + s.parts[0].screen[1]);
  await page.waitForFunction(() => window.__printfarmEditor.state().selected !== null);
  await page.getByTestId('size-x').fill('60');
  await page.getByTestId('size-x').press('Enter');
  await page.waitForFunction(() => /Size: 60\.0 ×/.test(document.querySelector('[data-testid="report"]').textContent));
  await page.screenshot({ path: join(dir, 'flow-2-editor.png') });

  // 4. Send to print, in the colour loaded on the printer, after seeing a real estimate.
  await page.getByTestId('send-to-print').click();
  await page.getByTestId('material').first().waitFor({ timeout: 20_000 });
  const loaded = page.getByTestId('colour').filter({ hasText: 'loaded' });
  for (const m of await page.getByTestId('material').all()) {
    await m.click();
    if (await loaded.count()) break;
  }
  await loaded.first().click();
  await page.getByTestId('estimate-text').waitFor({ timeout: 90_000 });
  assert.match(await page.getByTestId('estimate-text').textContent(), /of printing and [\d.]+ g of filament/);
  await page.getByTestId('confirm-print').click();
  const sent = page.getByTestId('sent');
  await sent.waitFor({ timeout: 30_000 });
  const jobId = Number(await sent.getAttribute('data-job'));
  await page.screenshot({ path: join(dir, 'flow-3-sent.png') });

  // 5. The farm gives it to the printer; from now on the bed must be cleared by a person.
  await until('the job to start printing', async () => {
    const { job } = await api(`/api/v1/jobs/${jobId}`);
    assert.ok(!['failed', 'cancelled'].includes(job.state), `job ${job.state}: ${job.error}`);
    return ['assigned', 'printing'].includes(job.state) ? job : null;
  }, 180_000);
  await api(`/api/v1/printers/${printer.id}`, { method: 'PATCH', body: JSON.stringify({ require_bed_clear: true }) });

  // 6. The dashboard shows the job on the printer's tile, and its progress moves without a reload.
  await page.goto(server.url + '/');
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  await page.evaluate(() => { window.__sameDocument = true; });
  const tile = page.locator(`[data-testid="printer-card"][data-printer-id="${printer.id}"]`);
  await tile.locator(`a[href="/jobs/${jobId}"]`).waitFor({ timeout: 30_000 });
  const progress = async () => Number((await tile.locator('[role="progressbar"]').getAttribute('aria-valuenow').catch(() => null)) ?? -1);
  const first = await until('progress on the tile', async () => { const p = await progress(); return p >= 0 ? p + 1 : null; }, 60_000) - 1;
  await until('the progress to move', async () => (await progress()) > first || (await tile.getByTestId('bed-cleared').count()) > 0, 120_000);
  await page.screenshot({ path: join(dir, 'flow-4-printing.png') });

  // 7. Done: the tile asks for the bed to be cleared; pressing the button frees the printer.
  const clear = tile.getByTestId('bed-cleared');
  await clear.waitFor({ timeout: 180_000 });
  assert.equal((await api(`/api/v1/jobs/${jobId}`)).job.state, 'done');
  await page.screenshot({ path: join(dir, 'flow-5-done.png') });
  await clear.click();
  await clear.waitFor({ state: 'detached', timeout: 10_000 });
  assert.equal((await api(`/api/v1/printers/${printer.id}`)).printer.bed_clear, true);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the dashboard never reloaded');
  assert.deepEqual(errors, []);
  await page.close();
});

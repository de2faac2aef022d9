// The Printers and Printer detail pages end to end, against the demo farm of simulated printers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureArtifacts, launchBrowser, startServer } from '../harness.mjs';

let server;
let browser;
let bench; // an extra simulated printer that takes no jobs, for the manual controls

before(async () => {
  [server, browser] = await Promise.all([
    startServer({ PRINTFARM_DEMO_PRINTERS: '3', PRINTFARM_DEMO_SPEED: '4' }),
    launchBrowser(),
  ]);
  await server.signIn(browser.context);
  const res = await fetch(server.url + '/api/v1/printers', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Bench', driver: 'simulated', build_mm: [200, 200, 180] }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  bench = (await res.json()).id;
  // Not in the job rotation, so it stays idle for heating, homing and jogging by hand.
  const off = await fetch(`${server.url}/api/v1/printers/${bench}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ enabled: false }),
  });
  assert.equal(off.status, 200, await off.text());
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function open(path) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(server.url + path);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  return { page, errors };
}

async function status(id) {
  const res = await fetch(`${server.url}/api/v1/printers/${id}`);
  assert.equal(res.status, 200);
  return (await res.json()).status;
}

async function until(what, check, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('the printers page lists the farm with profiles, material and live state', async () => {
  const html = await (await fetch(server.url + '/printers')).text();
  assert.match(html, /data-testid="printer-row"/, 'server-rendered before any script runs');

  const { page, errors } = await open('/printers');
  const rows = page.getByTestId('printer-row');
  assert.equal(await rows.count(), 4);
  const text = await page.getByTestId('printer-list').textContent();
  for (const name of ['Ada', 'Babbage', 'Curie', 'Bench']) assert.match(text, new RegExp(name));
  assert.match(text, /250 × 210 × 220 mm/, 'bed size of the small demo printers');
  assert.match(text, /350 × 350 × 350 mm/, 'bed size of the large one');
  assert.match(text, /marlin2 · simulated/);
  assert.match(text, /PLA · (Red|Blue|Black) · \d+ g left/, 'the loaded spool');
  // Live state arrives from the event stream: no row stays "Connecting".
  await page.waitForFunction(() =>
    [...document.querySelectorAll('[data-testid="printer-row"]')].every((r) => r.dataset.state !== 'connecting'));
  await page.screenshot({ path: join(ensureArtifacts(), 'printers.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('discovery shows progress, then what it found or a sentence', async () => {
  const { page } = await open('/printers');
  await page.getByTestId('discover').click();
  await page.getByTestId('discover-progress').waitFor({ timeout: 5_000 });
  await page.waitForSelector('[data-testid="found-list"], [data-testid="found-none"]', { timeout: 30_000 });
  assert.equal(await page.getByTestId('discover-progress').count(), 0, 'progress goes away when done');
  if (await page.getByTestId('found-none').count()) {
    assert.match(await page.getByTestId('found-none').textContent(), /switched on/);
  }
  await page.close();
});

test('adding by hand tests the connection and explains a dead address', async () => {
  const { page } = await open('/printers');
  await page.getByTestId('add-driver').selectOption('moonraker');
  await page.getByTestId('add-address').fill('http://127.0.0.1:9');
  await page.getByTestId('test-connection').click();
  const result = page.getByTestId('test-result');
  await result.waitFor({ timeout: 20_000 });
  const said = await result.textContent();
  assert.match(said, /(Could not reach|Nothing answered).*http:\/\/127\.0\.0\.1:9.*test again/, said);

  // Missing pieces are explained before anything is sent.
  await page.getByTestId('add-driver').selectOption('octoprint');
  await page.getByTestId('add-name').fill('Octo');
  await page.getByTestId('add-address').fill('http://octopi.local');
  await page.getByTestId('add-printer').click();
  assert.match(await page.getByTestId('add-error').textContent(), /API key/);
  await page.close();
});

test('edit a profile and remove a printer with a confirm step', async () => {
  const made = await fetch(server.url + '/api/v1/printers', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Spare', driver: 'moonraker', connection: { url: 'http://127.0.0.1:9' }, build_mm: [220, 220, 250] }),
  });
  const spare = (await made.json()).id;
  const { page } = await open('/printers');
  const row = page.locator(`[data-testid="printer-row"][data-printer-id="${spare}"]`);
  await row.getByTestId('edit-printer').click();
  await row.getByTestId('edit-x').fill('300');
  await row.getByTestId('save-printer').click();
  await page.waitForFunction((id) =>
    document.querySelector(`[data-testid="printer-row"][data-printer-id="${id}"]`)?.textContent.includes('300 × 220 × 250 mm'), spare);
  const record = await (await fetch(`${server.url}/api/v1/printers/${spare}`)).json();
  assert.equal(record.printer.build_x_mm, 300);

  await row.getByTestId('remove-printer').click();
  assert.equal((await fetch(`${server.url}/api/v1/printers/${spare}`)).status, 200, 'one click does not remove');
  await row.getByTestId('confirm-remove').click();
  await page.waitForFunction((id) => !document.querySelector(`[data-testid="printer-row"][data-printer-id="${id}"]`), spare);
  assert.equal((await fetch(`${server.url}/api/v1/printers/${spare}`)).status, 404);
  await page.close();
});

test('the detail page plots live temperatures; preheat, home and jog reach the printer', async () => {
  await until('the bench printer to be ready', async () => (await status(bench))?.state === 'idle');
  const { page, errors } = await open(`/printers/${bench}`);
  const plot = page.getByTestId('temp-plot');
  await plot.waitFor();

  await page.getByTestId('preheat-pla').click();
  await page.getByTestId('command-result').filter({ hasText: 'Heating for PLA' }).waitFor({ timeout: 10_000 });
  const heating = await until('the target to change', async () => {
    const s = await status(bench);
    return s.hotend.target === 200 && s.bed.target === 60 && s;
  });
  assert.equal(heating.hotend.target, 200);
  await page.getByTestId('hotend').filter({ hasText: '→ 200 °C' }).waitFor({ timeout: 10_000 });

  // The plot grows as readings arrive from the live stream (about one point a second while heating).
  const samples = async () => Number(await plot.getAttribute('data-samples'));
  const first = await until('the first readings', async () => (await samples()) >= 2 && samples());
  await until('more readings', async () => (await samples()) >= first + 3, 30_000);
  const points = await page.getByTestId('plot-hotend').getAttribute('points');
  assert.equal(points.trim().split(/\s+/).length, await samples(), 'one plotted point per reading');
  const ys = points.trim().split(/\s+/).map((p) => Number(p.split(',')[1]));
  assert.ok(ys[ys.length - 1] < ys[0], `the nozzle line rises while heating: ${ys[0]} → ${ys[ys.length - 1]}`);
  await page.screenshot({ path: join(ensureArtifacts(), 'printer-detail.png'), fullPage: true });

  await page.getByTestId('cool').click();
  await until('heaters off', async () => (await status(bench)).hotend.target === 0);

  await page.getByTestId('home').click();
  await page.getByTestId('command-result').filter({ hasText: 'Homing' }).waitFor({ timeout: 10_000 });
  await page.getByTestId('position').filter({ hasText: 'X 0.0 · Y 0.0 · Z 0.0 mm' }).waitFor({ timeout: 15_000 });
  await page.getByTestId('jog-X10').click();
  await page.getByTestId('command-result').filter({ hasText: 'Moved X by 10 mm' }).waitFor({ timeout: 10_000 });
  await page.getByTestId('position').filter({ hasText: 'X 10.0 · Y 0.0' }).waitFor({ timeout: 15_000 });
  await page.getByTestId('jog-Z1').click();
  await page.getByTestId('position').filter({ hasText: 'Z 1.0 mm' }).waitFor({ timeout: 15_000 });

  const audit = await (await fetch(server.url + '/api/v1/audit?limit=50')).json();
  const commands = audit.filter((e) => e.action === 'printer.command' && e.target_id === bench);
  assert.ok(commands.length >= 4, `commands are audited: ${JSON.stringify(commands.map((c) => c.detail))}`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('change the spool and keep the maintenance log', async () => {
  const made = await fetch(server.url + '/api/v1/spools', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ material_id: 1, colour_name: 'Green', initial_g: 500 }),
  });
  assert.equal(made.status, 201, await made.clone().text());
  const spool = (await made.json()).id;
  const { page, errors } = await open(`/printers/${bench}`);
  assert.match(await page.getByTestId('loaded-spool').textContent(), /No spool loaded/);
  await page.getByTestId('spool-select').selectOption(String(spool));
  await page.getByTestId('spool-load').click();
  await page.getByTestId('loaded-spool').filter({ hasText: 'PLA · Green · 500 g left' }).waitFor({ timeout: 10_000 });
  assert.equal((await (await fetch(`${server.url}/api/v1/printers/${bench}`)).json()).printer.loaded_spool_id, spool);

  await page.getByTestId('maintenance-name').fill('Lubricate rails');
  await page.getByTestId('maintenance-add').click();
  const log = page.getByTestId('maintenance');
  await log.filter({ hasText: 'Lubricate rails' }).waitFor();
  assert.match(await log.textContent(), /every 200 h/);
  assert.match(await log.textContent(), /done \d{4}-\d\d-\d\d/);
  const doneAt = async () => (await (await fetch(`${server.url}/api/v1/maintenance?printer=${bench}`)).json())[0].task.done_at;
  const added = await doneAt();
  await page.getByTestId('maintenance-done').click();
  await until('the task to be marked done', async () => (await doneAt()) !== added, 10_000);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the emergency stop asks first, then halts the printer and shows its words', async () => {
  const { page } = await open(`/printers/${bench}`);
  await page.getByTestId('estop').click();
  assert.match(await page.getByTestId('estop-confirm').textContent(), /Stop the printer right now/);
  await page.getByTestId('estop-cancel').click();
  assert.equal(await page.getByTestId('estop-confirm').count(), 0);
  assert.equal((await status(bench)).state, 'idle', 'cancelling the confirm sends nothing');

  await page.getByTestId('estop').click();
  await page.getByTestId('estop-yes').click();
  await page.getByTestId('command-result').filter({ hasText: 'Emergency stop sent' }).waitFor({ timeout: 10_000 });
  await until('the printer to halt', async () => (await status(bench)).state !== 'idle', 15_000);
  await page.locator('[data-testid="printer-state"]').filter({ hasNotText: 'Ready' }).waitFor({ timeout: 15_000 });
  await page.screenshot({ path: join(ensureArtifacts(), 'printer-emergency-stop.png'), fullPage: true });
  await page.close();
});

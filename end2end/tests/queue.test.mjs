// The Queue and Job pages end to end: jobs sent through the REST API appear with estimates; a manager
// reorders them with the move buttons and by dragging, a teacher approves one, a job is cancelled and
// printed again; the Job page draws the G-code layers and follows a print live, all without a reload.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureArtifacts, launchBrowser, startServer } from '../harness.mjs';

let still; // printers nearly frozen on their first jobs: what a click does to the queue can be checked exactly
let fast; // fast-forwarded: a job prints within seconds
let browser;

before(async () => {
  [still, fast, browser] = await Promise.all([
    startServer({ PRINTFARM_DEMO_PRINTERS: '2', PRINTFARM_DEMO_SPEED: '0.001' }),
    startServer({ PRINTFARM_DEMO_PRINTERS: '1', PRINTFARM_DEMO_SPEED: '60' }),
    launchBrowser(),
  ]);
  await still.signIn(browser.context);
  await fast.signIn(browser.context);
});

after(async () => {
  await browser?.close();
  await still?.stop();
  await fast?.stop();
});

async function api(server, path, init = {}) {
  const res = await fetch(server.url + path, {
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  assert.ok(res.ok, `${init.method ?? 'GET'} ${path}: ${res.status} ${await res.clone().text()}`);
  return res.status === 204 ? null : res.json();
}

/** Sends a job as the demo teacher; returns its record. */
async function submit(server, name) {
  const [any] = await api(server, '/api/v1/jobs?limit=1');
  const [job] = await api(server, '/api/v1/jobs', {
    method: 'POST',
    headers: { 'x-api-key': await server.keyFor('demo', 'teacher') },
    body: JSON.stringify({ model_version_id: any.model_version_id, name, quality: 'draft', material_kind: 'PLA' }),
  });
  return job;
}

/** Ids of waiting jobs in the order the farm serves them. */
async function order(server) {
  return (await api(server, '/api/v1/queue')).map((e) => e.job.id);
}

async function openPage(server, path) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && !/thumbnail/.test(m.text()) && errors.push(m.text()));
  await page.goto(server.url + path);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  await page.evaluate(() => { window.__sameDocument = true; });
  return { page, errors };
}

async function waitFor(what, check, timeout = 15_000) {
  const until = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const row = (page, id) => page.locator(`[data-testid="queue-row"][data-job-id="${id}"]`);

let jobs = [];

test('sent jobs are server-rendered in the queue with their estimates', async () => {
  for (const name of ['Alpha tag', 'Bravo tag', 'Charlie tag', 'Delta tag']) jobs.push(await submit(still, name));
  const res = await fetch(still.url + '/queue');
  assert.equal(res.status, 200);
  const html = await res.text();
  for (const j of jobs) assert.match(html, new RegExp(`data-job-id="${j.id}"`), `job ${j.id} is in the first HTML`);
  assert.match(html, /Alpha tag/);

  const { page, errors } = await openPage(still, '/queue');
  for (const j of jobs) {
    const times = await row(page, j.id).getByTestId('job-times').textContent();
    assert.match(times, /^Starts (now|in \d|today|tomorrow|\d+ \w{3} )/, `estimated start of ${j.name}: ${times}`);
    assert.match(times, /done (today|tomorrow|\d+ \w{3}) \d\d:\d\d/, `estimated finish of ${j.name}: ${times}`);
  }
  // The running demo jobs are on the timeline.
  assert.ok(await page.getByTestId('timeline-bar').count() >= 1, 'the timeline shows bars');
  await page.screenshot({ path: join(ensureArtifacts(), 'queue.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('a manager moves jobs with the buttons and by dragging, in the farm\'s real order', async () => {
  const { page, errors } = await openPage(still, '/queue');
  let ids = await order(still);
  assert.ok(ids.length >= 4, `at least four waiting jobs: ${ids}`);

  // Move the third job up one place.
  const third = ids[2];
  await row(page, third).locator('[data-action="up"]').click();
  await waitFor('the job to move up', async () => (await order(still))[1] === third);
  ids = await order(still);
  // The page follows: the row is second among the waiting rows, and keeps the keyboard focus.
  await waitFor('the page to show the new order', async () => {
    const shown = await page.$$eval('[data-testid="queue-waiting"] [data-testid="queue-row"]', (rs) => rs.map((r) => Number(r.dataset.jobId)));
    return shown[1] === third;
  });
  await waitFor('the focus to come back', () =>
    page.evaluate((id) => document.activeElement?.closest('[data-testid="queue-row"]')?.dataset.jobId === String(id), third));

  // And down again with the keyboard.
  await page.keyboard.press('Tab'); // from "up" to "down"
  await page.keyboard.press('Enter');
  await waitFor('the job to move back down', async () => (await order(still))[2] === third);

  // Drag the last waiting job above the first one.
  ids = await order(still);
  const last = ids[ids.length - 1];
  const first = ids[0];
  const handle = await row(page, last).getByTestId('drag-handle').boundingBox();
  const target = await row(page, first).boundingBox();
  await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
  await page.mouse.down();
  await page.mouse.move(handle.x + handle.width / 2, target.y + 4, { steps: 12 });
  await page.screenshot({ path: join(ensureArtifacts(), 'queue-dragging.png') });
  await page.mouse.up();
  await waitFor('the dragged job to be first', async () => (await order(still))[0] === last);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload happened');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a teacher approves a job that waits for approval; jobs are cancelled and printed again', async () => {
  await api(still, '/api/v1/farm/settings', { method: 'PUT', body: JSON.stringify({ approval_roles: ['teacher'] }) });
  const needs = await submit(still, 'Echo tag');
  await api(still, '/api/v1/farm/settings', { method: 'PUT', body: JSON.stringify({ approval_roles: ['kiosk', 'maker'] }) });
  assert.equal(needs.state, 'awaiting_approval');

  const { page, errors } = await openPage(still, '/queue');
  await page.getByTestId('state-filter').filter({ hasText: 'Needs approval' }).click();
  await row(page, needs.id).waitFor();
  assert.equal(await page.getByTestId('queue-row').count(), 1, 'the filter shows only the job that needs approval');
  await row(page, needs.id).locator('[data-action="approve"]').click();
  await waitFor('the approval', async () => (await api(still, `/api/v1/jobs/${needs.id}`)).job.state !== 'awaiting_approval');
  const history = (await api(still, `/api/v1/jobs/${needs.id}`)).history;
  assert.ok(history.some((h) => h.from === 'awaiting_approval' && h.to === 'queued' && h.reason === 'approved'), JSON.stringify(history));
  await page.getByTestId('state-filter').filter({ hasText: 'All' }).click();

  // Cancel asks once more, then cancels.
  const victim = jobs[3];
  await row(page, victim.id).locator('[data-action="cancel"]').click();
  await row(page, victim.id).locator('[data-action="confirm-cancel"]').click();
  await waitFor('the cancel', async () => (await api(still, `/api/v1/jobs/${victim.id}`)).job.state === 'cancelled');
  await waitFor('the row to move to finished', () =>
    page.locator(`[data-testid="queue-finished"] [data-job-id="${victim.id}"][data-state="cancelled"]`).count());
  assert.match(await page.getByTestId('queue-notice').textContent(), /Cancelled/);

  // A cancelled job can be printed again: a new job from the same model and settings.
  const before = new Set((await api(still, '/api/v1/jobs?limit=100')).map((j) => j.id));
  await page.locator(`[data-testid="queue-finished"] [data-job-id="${victim.id}"] [data-action="again"]`).click();
  const fresh = await waitFor('the new job', async () =>
    (await api(still, '/api/v1/jobs?limit=100')).find((j) => !before.has(j.id)));
  assert.equal(fresh.model_version_id, victim.model_version_id);
  assert.equal(fresh.name, victim.name);
  assert.equal(fresh.quality, victim.quality);
  await waitFor('the new job on the page', () => row(page, fresh.id).count());
  assert.match(await page.getByTestId('queue-notice').textContent(), new RegExp(`Job ${fresh.id}`));

  // Refusals are sentences: cancelling a cancelled job says why.
  const res = await fetch(still.url + '/api/queue/act', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `id=${victim.id}&action=cancel`,
  });
  assert.ok(!res.ok);
  assert.match(await res.text(), /This job can't be cancelled because it is already cancelled\./);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload happened');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the job page draws the G-code layers and follows the print live', async () => {
  const job = await submit(fast, 'Layered cube');
  await waitFor('the slice', async () => (await api(fast, `/api/v1/jobs/${job.id}`)).job.gcode_path, 90_000);

  const { page, errors } = await openPage(fast, `/jobs/${job.id}`);
  assert.equal(await page.getByTestId('job-name').textContent(), 'Layered cube');
  // Watch every state and progress the page shows, from now on, without reloading.
  await page.evaluate(() => {
    window.__seen = new Set();
    const note = () => {
      const s = document.querySelector('[data-testid="job-state"]')?.dataset.state;
      const p = document.querySelector('[data-testid="job-progress"]')?.dataset.progress;
      if (s) window.__seen.add(`state:${s}`);
      if (p) window.__seen.add(`progress:${p}`);
    };
    setInterval(note, 50);
  });

  const canvas = page.getByTestId('layer-canvas');
  await canvas.waitFor({ state: 'visible', timeout: 30_000 });
  await page.waitForFunction(() => /Layer \d+ of [1-9]/.test(document.querySelector('[data-testid="layer-label"]')?.textContent ?? ''));
  const pixels = () => page.evaluate(() => {
    const c = document.querySelector('[data-testid="layer-canvas"]');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    let hash = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] + d[i + 1] + d[i + 2] > 120) lit++;
      hash = (hash * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) >>> 0;
    }
    return { lit, hash };
  });
  const top = await pixels();
  assert.ok(top.lit > 100, `the top layer is drawn (${top.lit} bright pixels)`);
  const label = await page.getByTestId('layer-label').textContent();
  const slider = page.getByTestId('layer-slider');
  await slider.focus();
  await page.keyboard.press('Home');
  await page.waitForFunction(() => /^Layer 1 of/.test(document.querySelector('[data-testid="layer-label"]').textContent));
  const bottom = await pixels();
  assert.ok(bottom.lit > 100, 'the first layer is drawn');
  assert.notEqual(bottom.hash, top.hash, `moving the slider from "${label}" to layer 1 redrew the canvas`);
  await page.getByTestId('layer-up').click();
  await page.waitForFunction(() => /^Layer 2 of/.test(document.querySelector('[data-testid="layer-label"]').textContent));

  await page.waitForFunction(() => window.__seen.has('state:done'), null, { timeout: 120_000, polling: 200 });
  const seen = await page.evaluate(() => [...window.__seen]);
  assert.ok(seen.includes('state:printing'), `the page showed it printing: ${seen}`);
  const partial = seen.filter((s) => /^progress:/.test(s)).map((s) => Number(s.split(':')[1])).filter((p) => p > 0 && p < 100);
  assert.ok(partial.length >= 1, `progress arrived live while it printed: ${seen}`);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload happened');
  await page.screenshot({ path: join(ensureArtifacts(), 'job.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

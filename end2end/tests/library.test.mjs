// The Library and Settings pages end to end: an uploaded model with its thumbnail and versions,
// search, the class gallery; materials, quotas and users saved through the same code as the REST API.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureArtifacts, launchBrowser, startServer } from '../harness.mjs';

let server;
let browser;
let cube; // the uploaded model

/** An ASCII STL of a closed box, `size` mm on each side. */
function boxStl(size) {
  const s = size;
  const v = [[0, 0, 0], [s, 0, 0], [s, s, 0], [0, s, 0], [0, 0, s], [s, 0, s], [s, s, s], [0, s, s]];
  const faces = [[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]];
  const tri = (f) => `facet normal 0 0 0\n outer loop\n${f.map((i) => `  vertex ${v[i].join(' ')}\n`).join('')} endloop\nendfacet\n`;
  return `solid cube\n${faces.map(tri).join('')}endsolid cube\n`;
}

before(async () => {
  [server, browser] = await Promise.all([
    startServer({ PRINTFARM_DEMO_PRINTERS: '1', PRINTFARM_DEMO_SPEED: '0.001' }),
    launchBrowser(),
  ]);
  await server.signIn(browser.context);
  const res = await fetch(server.url + '/api/v1/models?name=cube.stl', { method: 'POST', body: boxStl(20) });
  assert.equal(res.status, 201, await res.clone().text());
  cube = await res.json();
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

const names = (page) => page.$$eval('[data-testid="model-name"]', (els) => els.map((e) => e.textContent));

test('the library shows the uploaded model with its thumbnail and versions', async () => {
  const { page, errors } = await open('/library');
  const card = page.locator('[data-testid="model"]')
    .filter({ has: page.getByTestId('model-name').getByText(cube.name, { exact: true }) });
  await card.waitFor();
  assert.match(await card.getByTestId('model-meta').textContent(), /version 1 · \d{4}-\d\d-\d\d · 20 × 20 × 20 mm · 12 triangles/);
  const img = card.getByTestId('thumbnail');
  assert.equal(await img.getAttribute('src'), `/api/v1/models/versions/${cube.version_id}/thumbnail.png`);
  await page.waitForFunction(() =>
    [...document.querySelectorAll('[data-testid="thumbnail"]')].every((i) => i.complete && i.naturalWidth > 0));
  assert.equal(await card.getByTestId('open-editor').getAttribute('href'), `/editor/${cube.version_id}`);
  assert.match(await card.getByTestId('print-again').getAttribute('href'), new RegExp(`^/editor/${cube.version_id}`));
  await page.screenshot({ path: join(ensureArtifacts(), 'library.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('search filters by name', async () => {
  const { page } = await open('/library');
  await page.getByTestId('model').first().waitFor();
  const all = await names(page);
  assert.ok(all.length >= 2, `the demo's models and the upload: ${all}`);
  await page.getByTestId('library-search').fill('cube');
  await page.waitForFunction(() =>
    [...document.querySelectorAll('[data-testid="model-name"]')].every((e) => /cube/i.test(e.textContent)));
  const found = await names(page);
  assert.ok(found.includes(cube.name), String(found));
  assert.ok(found.length < all.length, `${found} of ${all}`);
  await page.getByTestId('library-search').fill('no such model at all');
  await page.getByTestId('library-empty').waitFor();
  assert.match(await page.getByTestId('library-empty').textContent(), /shorter word/);
  await page.close();
});

test('a teacher adds a model to the class gallery and everyone sees it there', async () => {
  const { page } = await open('/library');
  await page.getByTestId('show-gallery').click();
  await page.getByTestId('library-empty').waitFor();
  await page.getByTestId('show-all').click();
  const card = page.locator(`[data-testid="model"][data-model-id="${cube.model_id}"]`);
  await card.getByTestId('gallery-toggle').click();
  await page.locator(`[data-testid="model"][data-model-id="${cube.model_id}"][data-in-gallery="true"]`).waitFor();
  await page.getByTestId('show-gallery').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="model"]').length === 1);
  assert.deepEqual(await names(page), [cube.name]);

  // Another visitor (a fresh page) sees the same gallery.
  const other = await open('/library');
  await other.page.getByTestId('show-gallery').click();
  await other.page.waitForFunction(() => document.querySelectorAll('[data-testid="model"]').length === 1);
  await other.page.close();
  await page.close();
});

test('settings: add a material, change a quota, add a user; all saved and audited', async () => {
  const { page, errors } = await open('/settings');
  await page.getByTestId('material-name').fill('Test PETG Orange');
  await page.getByTestId('material-kind').selectOption('PETG');
  await page.getByTestId('material-add').click();
  await page.getByTestId('material-row').filter({ hasText: 'Test PETG Orange' }).waitFor();
  const materials = await (await fetch(server.url + '/api/v1/materials')).json();
  assert.ok(materials.some((m) => m.name === 'Test PETG Orange' && m.kind === 'PETG'), JSON.stringify(materials));

  await page.getByTestId('quota-kiosk').fill('7');
  await page.getByTestId('quota-teacher').fill('');
  await page.getByTestId('quota-save').click();
  await page.getByTestId('quota-said').filter({ hasText: 'Saved.' }).waitFor();
  const settings = await (await fetch(server.url + '/api/v1/farm/settings')).json();
  assert.equal(settings.generation_quota_per_hour.kiosk, 7);
  assert.equal(settings.generation_quota_per_hour.teacher, null, 'empty is no limit');

  await page.getByTestId('quota-kiosk').fill('lots');
  await page.getByTestId('quota-save').click();
  assert.match(await page.getByTestId('quota-said').textContent(), /whole number/);

  await page.getByTestId('user-name').fill('maya.k');
  await page.getByTestId('user-role').selectOption('teacher');
  await page.getByTestId('user-add').click();
  await page.getByTestId('user-row').filter({ hasText: 'maya.k' }).waitFor();
  assert.match(await page.getByTestId('user-row').filter({ hasText: 'maya.k' }).textContent(), /teacher/);
  assert.deepEqual(errors, [], 'nothing failed so far');
  // A refused server function answers 500, which the browser logs; the page says why in words.
  await page.getByTestId('user-name').fill('maya.k');
  await page.getByTestId('user-add').click();
  await page.getByText('The name "maya.k" is taken. Choose another.').waitFor();

  await page.getByTestId('window-start').fill('22:30');
  await page.getByTestId('window-add').click();
  await page.getByTestId('window').filter({ hasText: 'every day at 22:30 for 8 h 00 min' }).waitFor();

  const audit = await (await fetch(server.url + '/api/v1/audit?limit=100')).json();
  const actions = audit.map((e) => e.action);
  for (const a of ['POST /api/v1/materials', 'PUT /api/v1/farm/settings', 'user.added', 'POST /api/v1/farm/windows']) {
    assert.ok(actions.includes(a), `${a} audited: ${actions}`);
  }
  assert.match(await page.getByTestId('no-packs').textContent(), /printfarm models install/);
  await page.screenshot({ path: join(ensureArtifacts(), 'settings.png'), fullPage: true });
  assert.deepEqual(errors.filter((e) => !/status of 500/.test(e)), []);
  await page.close();
});

// The Create page: a student types a prompt, watches it being made and sees the finished model — and a
// prompt no design matches offers designs to pick from. No AI model pack is installed, and the page says so.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureArtifacts, launchBrowser, startServer } from '../harness.mjs';

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startServer({ PRINTFARM_DEMO_PRINTERS: '1' }), launchBrowser()]);
  await server.signIn(browser.context);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function openCreate() {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(server.url + '/create');
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  return { page, errors };
}

test('a typed prompt becomes a model with a picture, without a reload', async () => {
  const { page, errors } = await openCreate();
  assert.match(await page.getByTestId('ai-status').textContent(), /No AI model is installed/);
  await page.evaluate(() => { window.__sameDocument = true; });

  await page.getByTestId('prompt').fill('a name tag for Maya');
  await page.getByTestId('make').click();
  const card = page.locator('[data-testid="generation"][data-state="done"]');
  await card.waitFor({ timeout: 60_000 });
  const img = card.getByTestId('result-thumbnail');
  await img.waitFor();
  // The picture really loaded (a broken image has no natural size).
  await page.waitForFunction(() => document.querySelector('[data-testid="result-thumbnail"]')?.naturalWidth > 0);
  await page.screenshot({ path: join(ensureArtifacts(), 'create-name-tag.png') });

  // One tap goes on to the editor with this model.
  assert.match(await card.getByTestId('open-editor').getAttribute('href'), /^\/editor\/\d+$/);
  const src = await img.getAttribute('src');
  const version = Number(src.match(/versions\/(\d+)\//)[1]);
  const res = await fetch(`${server.url}/api/v1/models/versions/${version}`);
  const model = await res.json();
  assert.match(model.name, /Maya/);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload happened');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a prompt no design matches offers designs, and picking one makes it', async () => {
  const { page, errors } = await openCreate();
  await page.getByTestId('prompt').fill('a dragon');
  await page.getByTestId('make').click();
  const choices = page.getByTestId('choices');
  await choices.waitFor({ timeout: 30_000 });
  const buttons = choices.locator('button.choice');
  assert.ok((await buttons.count()) >= 3);
  await buttons.first().click();
  await page.locator('[data-testid="generation"][data-state="done"]').waitFor({ timeout: 60_000 });
  assert.deepEqual(errors, []);
  await page.close();
});

test('an empty prompt and a blocked word get sentences, not errors', async () => {
  const { page, errors } = await openCreate();
  await page.getByTestId('make').click();
  assert.match(await page.getByTestId('create-error').textContent(), /Type what you would like to print/);
  await page.getByTestId('prompt').fill('a toy gun');
  await page.getByTestId('make').click();
  await page.waitForFunction(() => /not allowed/.test(document.querySelector('[data-testid="create-error"]')?.textContent ?? ''));
  assert.deepEqual(errors, []);
  await page.close();
});

test('an uploaded file opens in the editor; a wrong file gets a sentence', async () => {
  const { page, errors } = await openCreate();
  // A 10 mm cube as ASCII STL.
  const v = [[0, 0, 0], [10, 0, 0], [10, 10, 0], [0, 10, 0], [0, 0, 10], [10, 0, 10], [10, 10, 10], [0, 10, 10]];
  const faces = [[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]];
  const stl = 'solid cube\n' + faces.map((f) => 'facet normal 0 0 0\nouter loop\n' +
    f.map((i) => `vertex ${v[i].join(' ')}\n`).join('') + 'endloop\nendfacet\n').join('') + 'endsolid cube\n';

  await page.getByTestId('upload-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  assert.match(await page.getByTestId('upload-error').textContent(), /not a 3D model file/);

  await page.getByTestId('upload-input').setInputFiles({ name: 'broken.stl', mimeType: 'model/stl', buffer: Buffer.from('solid x\nfacet normal') });
  await page.waitForFunction(() => /could not be used/.test(document.querySelector('[data-testid="upload-error"]')?.textContent ?? ''));

  await page.getByTestId('upload-input').setInputFiles({ name: 'cube.stl', mimeType: 'model/stl', buffer: Buffer.from(stl) });
  await page.waitForURL(/\/editor\/\d+$/, { timeout: 30_000 });
  const version = Number(page.url().match(/editor\/(\d+)$/)[1]);
  const model = await (await fetch(`${server.url}/api/v1/models/versions/${version}`)).json();
  assert.match(model.name, /cube/);
  assert.deepEqual(errors, []);
  await page.close();
});

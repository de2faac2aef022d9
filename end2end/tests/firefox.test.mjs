// The same app in Firefox (Debian's ESR, over WebDriver BiDi): the pages hydrate, a prompt becomes a model,
// the editor draws it with WebGL2 (read back from the canvas), selects it and resizes it from the numeric
// field, and the farm dashboard's tiles are live. The Chromium tests cover the rest of each flow.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { editorPixel, ensureArtifacts, launchFirefox, startServer } from '../harness.mjs';

let server;
let firefox;

before(async () => {
  [server, firefox] = await Promise.all([startServer({ PRINTFARM_DEMO_PRINTERS: '2' }), launchFirefox()]);
  const { hostname } = new URL(server.url);
  await firefox.browser.setCookie({ name: 'printfarm_session', value: server.session, domain: hostname, path: '/' });
});

after(async () => {
  await firefox?.close();
  await server?.stop();
});

async function open(path) {
  const page = await firefox.browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(server.url + path);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
  return { page, errors };
}

test('Firefox: a prompt becomes a model, drawn, selected and resized in the editor', async () => {
  const { page, errors } = await open('/create');
  await page.type('[data-testid="prompt"]', 'a name tag for Maya');
  await page.click('[data-testid="make"]');
  await page.waitForSelector('[data-testid="generation"][data-state="done"] [data-testid="open-editor"]', {
    timeout: 60_000,
  });
  await page.screenshot({ path: join(ensureArtifacts(), 'firefox-create.png') });
  const editor = await page.$eval('[data-testid="generation"][data-state="done"] [data-testid="open-editor"]', (a) =>
    a.getAttribute('href'));
  assert.match(editor, /^\/editor\/\d+$/);

  await page.goto(server.url + editor);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
  await page.waitForSelector('[data-testid="editor"][data-ready="true"]', { timeout: 30_000 });
  await page.waitForFunction(() => window.__printfarmEditor?.state()?.frames > 0, { timeout: 30_000 });
  const renderer = await page.evaluate(() => {
    const gl = document.querySelector('[data-testid="editor-canvas"]').getContext('webgl2');
    return gl ? gl.getParameter(gl.VERSION) : null;
  });
  assert.match(renderer ?? '', /WebGL 2/);

  // The model's middle is drawn in the model's blue, on a bed that is not.
  const part = (await page.evaluate(() => window.__printfarmEditor.state())).parts[0];
  const middle = [(part.min[0] + part.max[0]) / 2, (part.min[1] + part.max[1]) / 2, part.max[2]];
  const at = await page.evaluate((p) => window.__printfarmEditor.project(...p), middle);
  const [r, g, b] = await page.evaluate(editorPixel, at);
  assert.ok(b > r + 50 && b > 110, `the model is drawn in blue at its middle: ${[r, g, b]}`);

  // Click it: selected, the fields fill in; 80 mm wide from the numeric field.
  const box = await (await page.$('[data-testid="editor-canvas"]')).boundingBox();
  await page.mouse.click(box.x + at[0], box.y + at[1]);
  await page.waitForFunction(() => window.__printfarmEditor.state().selected !== null, { timeout: 10_000 });
  await page.waitForFunction(() => document.querySelector('[data-testid="size-x"]').value !== '');
  const sizeX = await page.$('[data-testid="size-x"]');
  await sizeX.click({ count: 3 });
  await sizeX.type('80');
  await sizeX.press('Enter');
  await page.waitForFunction(() => document.querySelector('[data-testid="size-x"]').value === '80.0', {
    timeout: 10_000,
  });
  const resized = (await page.evaluate(() => window.__printfarmEditor.state())).parts[0];
  assert.ok(Math.abs(resized.max[0] - resized.min[0] - 80) < 0.05, `width ${resized.max[0] - resized.min[0]}`);
  await page.screenshot({ path: join(ensureArtifacts(), 'firefox-editor.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

test('Firefox: the farm dashboard shows every printer and stays live', async () => {
  const { page, errors } = await open('/');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="printer-card"]').length === 2, {
    timeout: 30_000,
  });
  // A change made elsewhere (the API) reaches the open page without a reload.
  await page.evaluate(() => { window.__sameDocument = true; });
  const printers = await (await fetch(`${server.url}/api/v1/printers`)).json();
  const res = await fetch(`${server.url}/api/v1/printers/${printers[0].id}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Renamed in Firefox' }),
  });
  assert.ok(res.ok, `rename: ${res.status} ${await res.text()}`);
  await page.waitForFunction(() => document.body.textContent.includes('Renamed in Firefox'), { timeout: 20_000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload happened');
  await page.screenshot({ path: join(ensureArtifacts(), 'firefox-farm.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

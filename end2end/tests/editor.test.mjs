// The editor: a generated name tag appears on the print bed in the WebGL canvas (read back pixel by
// pixel), is resized with the numeric field, dragged with the gizmo, undone, saved as a new version
// and sent to print with a real slice's estimate. Also: a part pushed off the bed turns red and the
// check says so in words.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { editorPixel, ensureArtifacts, launchBrowser, startServer } from '../harness.mjs';

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

async function api(path, init) {
  const res = await fetch(server.url + path, init);
  const body = await res.json();
  assert.ok(res.ok, `${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** Makes "a name tag for Maya" and returns its model version id. */
async function makeNameTag() {
  const answer = await api('/api/v1/generations', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a name tag for Maya' }),
  });
  assert.equal(answer.outcome, 'queued');
  const id = answer.generations[0].id;
  for (let i = 0; i < 300; i++) {
    const g = await api(`/api/v1/generations/${id}`);
    if (g.state === 'done') return g.model_version_id;
    assert.ok(!['failed', 'cancelled'].includes(g.state), `generation ${g.state}: ${g.error}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the name tag was not made in 60 s');
}

async function openEditor(version) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/editor/${version}`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  await page.waitForSelector('[data-testid="editor"][data-ready="true"]', { timeout: 30_000 });
  await page.waitForFunction(() => window.__printfarmEditor?.state()?.frames > 0);
  return { page, errors };
}

const state = (page) => page.evaluate(() => window.__printfarmEditor.state());

/** The canvas pixel (RGBA) under a point given in CSS pixels from the canvas's top left. */
async function pixel(page, [x, y]) {
  return page.evaluate(editorPixel, [x, y]);
}

/** Pixels over a part's top: a 9 × 3 grid inside its bounds at its highest z. */
async function partPixels(page, part) {
  const out = [];
  for (const fx of [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) {
    for (const fy of [0.3, 0.5, 0.7]) {
      const x = part.min[0] + fx * (part.max[0] - part.min[0]);
      const y = part.min[1] + fy * (part.max[1] - part.min[1]);
      const at = await page.evaluate(([x, y, z]) => window.__printfarmEditor.project(x, y, z), [x, y, part.max[2]]);
      out.push(await pixel(page, at));
    }
  }
  return out;
}

/** A fingerprint of the whole picture, to tell whether the render changed. */
const picture = (page) =>
  page.evaluate(() => document.querySelector('[data-testid="editor-canvas"]').toDataURL('image/png'));

async function waitFrames(page, after) {
  await page.waitForFunction((n) => window.__printfarmEditor.state().frames > n, after);
}

async function canvasBox(page) {
  return page.locator('[data-testid="editor-canvas"]').boundingBox();
}

const isModelBlue = ([r, g, b]) => b > r + 50 && b > 110;
const isBed = ([r, g, b]) => Math.abs(r - b) < 40 && b < 140;

test('a generated model is drawn on the bed, resized, dragged, undone, saved and sent to print', async () => {
  const version = await makeNameTag();
  const { page, errors } = await openEditor(version);
  const dir = ensureArtifacts();

  // The model sits in the middle of the bed and the canvas really drew it.
  let s = await state(page);
  assert.equal(s.parts.length, 1);
  const part = s.parts[0];
  assert.ok(part.watertight, 'a generated model is closed');
  const centre = part.screen;
  const middle = await pixel(page, centre);
  assert.ok(isModelBlue(middle), `model colour at its centre, got ${middle}`);
  const blue = (await partPixels(page, part)).filter(isModelBlue).length;
  assert.ok(blue >= 14, `most of the part's top is model-coloured (${blue} of 27)`);
  const corner = await page.evaluate(() => window.__printfarmEditor.project(15, 15, 0));
  const bed = await pixel(page, corner);
  assert.ok(isBed(bed), `bed colour near the bed's corner, got ${bed}`);
  assert.notDeepEqual(bed, middle);
  await page.screenshot({ path: join(dir, 'editor-loaded.png') });

  // Tap the model to select it: it turns orange and the fields fill in.
  const box = await canvasBox(page);
  await page.mouse.click(box.x + centre[0], box.y + centre[1]);
  await page.waitForFunction(() => window.__printfarmEditor.state().selected !== null);
  const sizeX = page.getByTestId('size-x');
  await page.waitForFunction(() => document.querySelector('[data-testid="size-x"]').value !== '');
  const before = Number(await sizeX.inputValue());
  assert.ok(before > 10, `width ${before}`);
  const selected = await partPixels(page, (await state(page)).parts[0]);
  const orange = selected.filter(([r, , b]) => r > b + 50).length;
  // The gizmo's thin arrows and ring may cross a few samples; the part itself is orange now.
  const stillBlue = selected.filter(isModelBlue).length;
  assert.ok(orange >= 10 && stillBlue <= 4, `selected parts are orange (${orange} of 27, ${stillBlue} blue): ${selected}`);

  // The size field: 80 mm wide, proportions kept.
  const frames = (await state(page)).frames;
  const shot = await picture(page);
  await sizeX.fill('80');
  await sizeX.press('Enter');
  await page.waitForFunction(() => document.querySelector('[data-testid="size-x"]').value === '80.0');
  await waitFrames(page, frames);
  s = await state(page);
  const width = s.parts[0].max[0] - s.parts[0].min[0];
  assert.ok(Math.abs(width - 80) < 0.05, `width ${width}`);
  const scaled = Number(await page.getByTestId('size-y').inputValue());
  assert.ok(scaled > 0, 'the other sizes follow');
  assert.match(await page.getByTestId('report').textContent(), /Size: 80\.0 ×/);
  assert.notEqual(await picture(page), shot, 'the render changed');
  await page.screenshot({ path: join(dir, 'editor-resized.png') });

  // Drag the X arrow of the gizmo 120 px along its direction on screen.
  const posX = page.getByTestId('pos-x');
  const x0 = Number(await posX.inputValue());
  const y0 = Number(await page.getByTestId('pos-y').inputValue());
  const g = (await state(page)).gizmo;
  const dx = g.xDir[0] - g.x[0];
  const dy = g.xDir[1] - g.x[1];
  const len = Math.hypot(dx, dy);
  const from = [box.x + g.x[0], box.y + g.x[1]];
  await page.mouse.move(from[0], from[1]);
  await page.mouse.down();
  for (let i = 1; i <= 10; i++) {
    await page.mouse.move(from[0] + (dx / len) * 12 * i, from[1] + (dy / len) * 12 * i);
  }
  await page.mouse.up();
  await page.waitForFunction((x) => Number(document.querySelector('[data-testid="pos-x"]').value) > x + 5, x0);
  const x1 = Number(await posX.inputValue());
  assert.ok(x1 > x0 + 5, `the part moved along x: ${x0} → ${x1}`);
  const y1 = Number(await page.getByTestId('pos-y').inputValue());
  assert.ok(Math.abs(y1 - y0) < 0.05, `the x arrow moves along x only: y ${y0} → ${y1}`);
  await page.screenshot({ path: join(dir, 'editor-dragged.png') });

  // Undo puts it back; Ctrl+Shift+Z redoes; Ctrl+Z undoes again.
  await page.getByTestId('undo').click();
  await page.waitForFunction((x) => Math.abs(Number(document.querySelector('[data-testid="pos-x"]').value) - x) < 0.05, x0);
  await page.locator('[data-testid="editor-canvas"]').focus();
  await page.keyboard.press('Control+Shift+Z');
  await page.waitForFunction((x) => Math.abs(Number(document.querySelector('[data-testid="pos-x"]').value) - x) < 0.05, x1);
  await page.keyboard.press('Control+Z');
  await page.waitForFunction((x) => Math.abs(Number(document.querySelector('[data-testid="pos-x"]').value) - x) < 0.05, x0);

  // The scale square: dragging it away from the centre makes the part bigger; undo shrinks it back.
  const gs = (await state(page)).gizmo;
  const sx = gs.scale[0] - gs.origin[0];
  const sy = gs.scale[1] - gs.origin[1];
  const sl = Math.hypot(sx, sy);
  await page.mouse.move(box.x + gs.scale[0], box.y + gs.scale[1]);
  await page.mouse.down();
  for (let i = 1; i <= 6; i++) {
    await page.mouse.move(box.x + gs.scale[0] + (sx / sl) * 10 * i, box.y + gs.scale[1] + (sy / sl) * 10 * i);
  }
  await page.mouse.up();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="size-x"]').value) > 85);
  await page.getByTestId('undo').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="size-x"]').value === '80.0');

  // Save: a new version of the same model; the original is untouched.
  const original = await api(`/api/v1/models/versions/${version}`);
  await page.getByTestId('save').click();
  await page.waitForFunction((v) => {
    const now = document.querySelector('[data-testid="editor"]').dataset.version;
    return now && now !== String(v);
  }, version);
  const saved = Number(await page.getByTestId('editor').getAttribute('data-version'));
  assert.ok(page.url().endsWith(`/editor/${saved}`), page.url());
  const edited = await api(`/api/v1/models/versions/${saved}`);
  assert.equal(edited.model_id, original.model_id);
  assert.equal(edited.version, original.version + 1);
  assert.ok(Math.abs(edited.size_x_mm - 80) < 0.1, `saved width ${edited.size_x_mm}`);
  assert.equal((await api(`/api/v1/models/versions/${version}`)).sha256, original.sha256);
  const file = await fetch(`${server.url}/api/v1/models/versions/${version}/file`);
  assert.equal(file.status, 200, 'the original file is still there');

  // Send to print: a real slice's estimate, then the job lands in the farm.
  await page.getByTestId('send-to-print').click();
  await page.getByTestId('print-panel').waitFor();
  await page.getByTestId('material').first().waitFor({ timeout: 20_000 });
  assert.ok((await page.getByTestId('material').count()) >= 1, 'a material the farm has');
  assert.ok((await page.getByTestId('colour').count()) >= 1, 'a colour the farm has');
  await page.getByTestId('estimate-text').waitFor({ timeout: 90_000 });
  const estimate = await page.getByTestId('estimate-text').textContent();
  assert.match(estimate, /about .*(min|h).* of printing and [\d.]+ g of filament/);
  await page.screenshot({ path: join(dir, 'editor-send-to-print.png') });
  await page.getByTestId('confirm-print').click();
  const sent = page.getByTestId('sent');
  await sent.waitFor({ timeout: 30_000 });
  const jobId = Number(await sent.getAttribute('data-job'));
  assert.match(await sent.getAttribute('data-state'), /^(queued|awaiting_approval)$/);
  assert.equal(await sent.locator('a[href="/queue"]').count(), 1);
  assert.equal(await sent.locator(`a[href="/jobs/${jobId}"]`).count(), 1);
  const job = await api(`/api/v1/jobs/${jobId}`);
  assert.equal(job.job.model_version_id, saved);
  assert.equal(job.job.quality, 'standard');
  const jobs = await api('/api/v1/jobs');
  assert.ok(JSON.stringify(jobs).includes(`"id":${jobId}`), 'the job is listed');
  await page.screenshot({ path: join(dir, 'editor-sent.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

test('a part pushed off the bed is shown in red and the check says what to do', async () => {
  const upload = await fetch(`${server.url}/api/v1/models?name=cube.stl`, { method: 'POST', body: cubeStl(30) });
  assert.equal(upload.status, 201);
  const { version_id: version } = await upload.json();
  const { page, errors } = await openEditor(version);
  await page.getByTestId('part').first().click();
  await page.waitForFunction(() => window.__printfarmEditor.state().selected !== null);
  const frames = (await state(page)).frames;
  await page.getByTestId('pos-x').fill('5');
  await page.getByTestId('pos-x').press('Enter');
  await page.waitForFunction(() => /sticks out of the bed/.test(document.querySelector('[data-testid="report"]').textContent));
  await waitFrames(page, frames);
  // Deselect so the red is the problem colour, not the selection's.
  await page.locator('[data-testid="editor-canvas"]').focus();
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => window.__printfarmEditor.state().selected === null);
  const s = await state(page);
  await page.waitForFunction((n) => window.__printfarmEditor.state().frames > n, s.frames - 1);
  await page.screenshot({ path: join(ensureArtifacts(), 'editor-off-bed.png') });
  const pixels = await partPixels(page, s.parts[0]);
  const red = pixels.filter(([r, g, b]) => r > 110 && g < 0.45 * r && b < 0.45 * r).length;
  assert.ok(red >= 14 && !pixels.some(isModelBlue), `out-of-bed parts are red (${red} of 27): ${pixels}`);
  await page.screenshot({ path: join(ensureArtifacts(), 'editor-off-bed.png') });

  // Scale to fit brings it back and the check is happy.
  await page.getByTestId('part').first().click();
  await page.getByTestId('scale-to-fit').click();
  await page.waitForFunction(() => /ready to print/.test(document.querySelector('[data-testid="report"]').textContent));
  assert.deepEqual(errors, []);
  await page.close();
});

test('the Library\'s Print button (?print=1) opens the send-to-print panel once the model is in view', async () => {
  const upload = await fetch(`${server.url}/api/v1/models?name=cube.stl`, { method: 'POST', body: cubeStl(20) });
  const { version_id: version } = await upload.json();
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/editor/${version}?print=1`);
  await page.waitForSelector('[data-testid="editor"][data-ready="true"]', { timeout: 30_000 });
  await page.getByTestId('print-panel').waitFor({ timeout: 10_000 });
  assert.deepEqual(errors, []);
  await page.close();
});

/** A binary STL of a closed cube with edge `e` mm. */
function cubeStl(e) {
  const v = [[0, 0, 0], [e, 0, 0], [e, e, 0], [0, e, 0], [0, 0, e], [e, 0, e], [e, e, e], [0, e, e]];
  const t = [[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4], [2, 3, 7], [2, 7, 6], [1, 2, 6], [1, 6, 5], [3, 0, 4], [3, 4, 7]];
  const buf = Buffer.alloc(84 + 50 * t.length);
  buf.writeUInt32LE(t.length, 80);
  t.forEach((tri, i) => {
    const o = 84 + 50 * i;
    tri.forEach((vi, k) => v[vi].forEach((c, j) => buf.writeFloatLE(c, o + 12 + 12 * k + 4 * j)));
  });
  return buf;
}

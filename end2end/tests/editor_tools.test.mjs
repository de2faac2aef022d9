// The editor's tools, driven as a person would: measure between two tapped points, lay a part flat on a
// tapped face, cut it with a plane, copy and auto-arrange, and the touch gestures (one finger orbits, two
// fingers pinch to zoom, a tap selects). The model is a 40 × 20 × 10 mm box uploaded as STL, so every
// answer is known in advance.
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

/** A closed, outward-facing box from (0,0,0) to `size` as binary STL. */
function boxStl([sx, sy, sz]) {
  const v = (i) => [(i & 1) * sx, ((i >> 1) & 1) * sy, ((i >> 2) & 1) * sz];
  // Each face as two counter-clockwise triangles seen from outside.
  const quads = [
    [0, 2, 3, 1], // bottom (z = 0)
    [4, 5, 7, 6], // top
    [0, 1, 5, 4], // front (y = 0)
    [2, 6, 7, 3], // back
    [0, 4, 6, 2], // left (x = 0)
    [1, 3, 7, 5], // right
  ];
  const tris = quads.flatMap(([a, b, c, d]) => [[a, b, c], [a, c, d]]);
  const buf = Buffer.alloc(84 + 50 * tris.length);
  buf.writeUInt32LE(tris.length, 80);
  tris.forEach((t, n) => {
    const o = 84 + 50 * n + 12;
    t.forEach((vi, k) => v(vi).forEach((c, d) => buf.writeFloatLE(c, o + 12 * k + 4 * d)));
  });
  return buf;
}

async function openBox() {
  const res = await fetch(`${server.url}/api/v1/models?name=tool-test-box.stl`, {
    method: 'POST',
    headers: { 'x-api-key': server.key },
    body: boxStl([40, 20, 10]),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const { version_id } = await res.json();
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/editor/${version_id}`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  await page.waitForSelector('[data-testid="editor"][data-ready="true"]', { timeout: 30_000 });
  await page.waitForFunction(() => window.__printfarmEditor?.state()?.frames > 0);
  return { page, errors };
}

const state = (page) => page.evaluate(() => window.__printfarmEditor.state());
const project = (page, p) => page.evaluate(([x, y, z]) => window.__printfarmEditor.project(x, y, z), p);
const size = (part) => [0, 1, 2].map((i) => part.max[i] - part.min[i]);
const near = (a, b, tol, what) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} is not ${b} ± ${tol}`);

async function clickAt(page, p) {
  const box = await page.locator('[data-testid="editor-canvas"]').boundingBox();
  const at = await project(page, p);
  assert.ok(at, `${p} is in view`);
  await page.mouse.click(box.x + at[0], box.y + at[1]);
}

test('measure, lay flat, cut, copy and arrange a box with the mouse', async () => {
  const { page, errors } = await openBox();
  const dir = ensureArtifacts();
  let [part] = (await state(page)).parts;
  const s0 = size(part);
  [40, 20, 10].forEach((v, i) => near(s0[i], v, 0.01, `box size ${i}`));
  assert.ok(part.watertight);
  const mid = (p) => [0, 1, 2].map((i) => (p.min[i] + p.max[i]) / 2);

  // Measure: two taps on the top face, 20 mm apart in x and 10 in y.
  await page.getByTestId('measure').click();
  await page.waitForFunction(() => /first point/.test(document.querySelector('[data-testid="editor-notice"]')?.textContent ?? ''));
  const [cx, cy] = mid(part);
  await clickAt(page, [cx - 10, cy - 5, part.max[2]]);
  await page.waitForFunction(() => /second point/.test(document.querySelector('[data-testid="editor-notice"]')?.textContent ?? ''));
  await clickAt(page, [cx + 10, cy + 5, part.max[2]]);
  await page.waitForFunction(() => /Distance/.test(document.querySelector('[data-testid="editor-notice"]')?.textContent ?? ''));
  const s = await state(page);
  assert.equal(s.markers.length, 2);
  const [a, b] = s.markers;
  const measured = Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
  // The taps land on whole pixels: about a third of a millimetre each at this zoom.
  near(measured, Math.hypot(20, 10), 1.0, 'measured distance');
  near(a[2], 10, 0.01, 'the first point is on the top face');
  const shown = Number(/Distance: ([\d.]+) mm/.exec(await page.getByTestId('editor-notice').textContent())[1]);
  near(shown, measured, 0.051, 'the distance shown');
  await page.screenshot({ path: join(dir, 'editor-measure.png') });

  // Lay flat: tap the front face (it faces the camera), which then lies on the bed.
  await page.getByTestId('lay-flat').click();
  await page.waitForFunction(() => /face the part should lie on/.test(document.querySelector('[data-testid="editor-notice"]')?.textContent ?? ''));
  await clickAt(page, [cx, part.min[1], 5]);
  await page.waitForFunction(() => Math.abs(window.__printfarmEditor.state().parts[0].max[2] - 20) < 0.05);
  [part] = (await state(page)).parts;
  const s1 = size(part);
  near(s1[0], 40, 0.05, 'width after lay flat');
  near(s1[1], 10, 0.05, 'depth after lay flat');
  near(part.min[2], 0, 0.01, 'it stands on the bed');
  assert.ok(await page.getByTestId('undo').isEnabled());

  // Cut at 6 mm: two closed parts, 6 and 14 mm tall, both on the bed and apart from each other.
  await clickAt(page, [...mid(part).slice(0, 2), part.max[2]]);
  await page.waitForFunction(() => window.__printfarmEditor.state().selected !== null);
  await page.getByTestId('cut').click();
  await page.getByTestId('cut-panel').waitFor();
  assert.equal(await page.getByTestId('cut-z').inputValue(), '10.0', 'the cut starts at half height');
  await page.getByTestId('cut-z').fill('6');
  await page.getByTestId('cut-z').press('Enter');
  await page.waitForFunction(() => document.querySelector('[data-testid="cut-z"]').value === '6.0');
  await page.getByTestId('cut-both').click();
  await page.waitForFunction(() => window.__printfarmEditor.state().parts.length === 2);
  let parts = (await state(page)).parts;
  const heights = parts.map((p) => size(p)[2]).sort((x, y) => x - y);
  near(heights[0], 6, 0.05, 'the bottom half');
  near(heights[1], 14, 0.05, 'the top half');
  for (const p of parts) {
    assert.ok(p.watertight, `${p.name} is closed by its cap`);
    near(p.min[2], 0, 0.01, `${p.name} stands on the bed`);
  }
  assert.ok(overlapFree(parts), 'the halves were moved apart');
  assert.match(await page.getByTestId('report').textContent(), /2 parts/);
  await page.screenshot({ path: join(dir, 'editor-cut.png') });

  // A copy of the selected half (placed apart by itself), pushed onto another part with the position
  // fields; arrange then puts all three on the bed with none overlapping.
  await page.getByTestId('add-copy').click();
  await page.waitForFunction(() => window.__printfarmEditor.state().parts.length === 3);
  parts = (await state(page)).parts;
  assert.ok(overlapFree(parts), 'a copy is placed apart');
  const s2 = await state(page);
  const other = parts.find((p) => p.id !== s2.selected);
  const [ox, oy] = mid(other);
  for (const [field, v] of [['pos-x', ox], ['pos-y', oy]]) {
    await page.getByTestId(field).fill(v.toFixed(1));
    await page.getByTestId(field).press('Enter');
  }
  await page.waitForFunction(() => {
    const ps = window.__printfarmEditor.state().parts;
    return ps.some((p, i) => ps.some((q, j) => i !== j && p.max[0] > q.min[0] && q.max[0] > p.min[0] && p.max[1] > q.min[1] && q.max[1] > p.min[1]));
  });
  await page.getByTestId('arrange').click();
  await page.waitForFunction(() => {
    const ps = window.__printfarmEditor.state().parts;
    return ps.every((p, i) => ps.every((q, j) => i === j || p.max[0] <= q.min[0] || q.max[0] <= p.min[0] || p.max[1] <= q.min[1] || q.max[1] <= p.min[1]));
  });
  parts = (await state(page)).parts;
  const bed = (await state(page)).bed;
  for (const p of parts) {
    assert.ok(p.min[0] >= 0 && p.min[1] >= 0 && p.max[0] <= bed[0] && p.max[1] <= bed[1], `${p.name} is on the bed`);
  }
  assert.match(await page.getByTestId('report').textContent(), /3 parts/);
  await page.screenshot({ path: join(dir, 'editor-arranged.png') });

  // Undo walks back through arrange, the moves, the copy, the cut and the lay flat to the box as it came.
  for (let i = 0; i < 10 && (await state(page)).canUndo; i++) {
    const n = (await state(page)).frames;
    await page.getByTestId('undo').click();
    await page.waitForFunction((n) => window.__printfarmEditor.state().frames > n, n);
  }
  [part] = (await state(page)).parts;
  assert.equal((await state(page)).parts.length, 1);
  [40, 20, 10].forEach((v, i) => near(size(part)[i], v, 0.05, `the box's size ${i} after undo`));
  assert.deepEqual(errors, []);
  await page.close();
});

/** Whether no two parts' footprints (x, y boxes) overlap. */
function overlapFree(parts) {
  for (let i = 0; i < parts.length; i++) {
    for (let j = i + 1; j < parts.length; j++) {
      const [p, q] = [parts[i], parts[j]];
      const apart = p.max[0] <= q.min[0] || q.max[0] <= p.min[0] || p.max[1] <= q.min[1] || q.max[1] <= p.min[1];
      if (!apart) return false;
    }
  }
  return true;
}

test('touch: a tap selects and lets go, one finger orbits, two fingers pinch to zoom', async () => {
  const { page, errors } = await openBox();
  const cdp = await browser.context.newCDPSession(page);
  await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 5 });
  const box = await page.locator('[data-testid="editor-canvas"]').boundingBox();
  const touch = (type, points) =>
    cdp.send('Input.dispatchTouchEvent', {
      type,
      touchPoints: points.map(([x, y], id) => ({ x: box.x + x, y: box.y + y, id, radiusX: 4, radiusY: 4, force: 1 })),
    });

  // A tap on the part selects it; a tap on the empty bed lets go.
  const [part] = (await state(page)).parts;
  await touch('touchStart', [part.screen]);
  await touch('touchEnd', []);
  await page.waitForFunction((id) => window.__printfarmEditor.state().selected === id, part.id);
  const { bed } = await state(page);
  const emptyAt = [bed[0] * 0.7, bed[1] * 0.6, 0];
  assert.ok(part.max[0] < emptyAt[0] || part.max[1] < emptyAt[1], 'that spot of the bed is empty');
  const empty = await project(page, emptyAt);
  await touch('touchStart', [empty]);
  await touch('touchEnd', []);
  await page.waitForFunction(() => window.__printfarmEditor.state().selected === null);

  // One finger drags across an empty part of the bed: the view turns about the bed.
  const before = (await state(page)).camera;
  const y = box.height * 0.8;
  await touch('touchStart', [[box.width * 0.15, y]]);
  for (let i = 1; i <= 10; i++) await touch('touchMove', [[box.width * 0.15 + 15 * i, y]]);
  await touch('touchEnd', []);
  await page.waitForFunction((yaw) => window.__printfarmEditor.state().camera.yaw !== yaw, before.yaw);
  const turned = (await state(page)).camera;
  assert.ok(Math.abs(turned.yaw - before.yaw) > 0.2, `yaw ${before.yaw} → ${turned.yaw}`);
  near(turned.distance, before.distance, 0.001, 'one finger does not zoom');

  // Two fingers spread apart: the camera comes closer.
  const c = [box.width * 0.5, box.height * 0.5];
  await touch('touchStart', [[c[0] - 40, c[1]]]);
  await touch('touchStart', [[c[0] - 40, c[1]], [c[0] + 40, c[1]]]);
  for (let i = 1; i <= 8; i++) await touch('touchMove', [[c[0] - 40 - 15 * i, c[1]], [c[0] + 40 + 15 * i, c[1]]]);
  await touch('touchEnd', []);
  await page.waitForFunction((d) => window.__printfarmEditor.state().camera.distance < d * 0.8, turned.distance);
  const zoomed = (await state(page)).camera;
  near(zoomed.yaw, turned.yaw, 0.001, 'a pinch does not orbit');
  await page.screenshot({ path: join(ensureArtifacts(), 'editor-touch.png') });

  assert.deepEqual(errors, []);
  await page.close();
});

// Editor benchmark (run on demand, not by the tests): frame time in headless Chromium with software
// rendering (SwiftShader), and the plate operations in wasm (place on bed, a transform with its
// feedback, pick, lay flat, cut), for closed spheres of 100k and 1M triangles uploaded as binary STL.
//
//   SERVER_BIN=target/debug/printfarm SITE_ROOT=target/site node end2end/bench/editor-frames.mjs [FRAMES]
//
// Prints one JSON line per size. Needs the release browser bundle (scripts/bundle).
import { launchBrowser, startServer } from '../harness.mjs';

const FRAMES = Number(process.argv[2] ?? 10);
const SIZES = [
  { name: '100k', segments: 250, rings: 201 }, // 2·250·200 = 100,000 triangles
  { name: '1M', segments: 1000, rings: 501 }, // 2·1000·500 = 1,000,000 triangles
];

/** A closed UV sphere (radius 50 mm) as a binary STL: 2·segments·(rings−1) triangles. */
function sphereStl(segments, rings, radius = 50) {
  const verts = [[0, 0, radius], [0, 0, -radius]];
  for (let i = 1; i < rings; i++) {
    const theta = (Math.PI * i) / rings;
    for (let j = 0; j < segments; j++) {
      const phi = (2 * Math.PI * j) / segments;
      verts.push([radius * Math.sin(theta) * Math.cos(phi), radius * Math.sin(theta) * Math.sin(phi), radius * Math.cos(theta)]);
    }
  }
  const ring = (i, j) => 2 + (i - 1) * segments + (j % segments);
  const tris = [];
  for (let j = 0; j < segments; j++) tris.push([0, ring(1, j), ring(1, j + 1)]);
  for (let i = 1; i < rings - 1; i++) {
    for (let j = 0; j < segments; j++) {
      tris.push([ring(i, j), ring(i + 1, j), ring(i + 1, j + 1)]);
      tris.push([ring(i, j), ring(i + 1, j + 1), ring(i, j + 1)]);
    }
  }
  for (let j = 0; j < segments; j++) tris.push([1, ring(rings - 1, j + 1), ring(rings - 1, j)]);
  const buf = Buffer.alloc(84 + 50 * tris.length);
  buf.writeUInt32LE(tris.length, 80);
  tris.forEach((t, n) => {
    const o = 84 + 50 * n + 12;
    t.forEach((vi, k) => verts[vi].forEach((c, d) => buf.writeFloatLE(c, o + 12 * k + 4 * d)));
  });
  return { stl: buf, triangles: tris.length };
}

const server = await startServer({ PRINTFARM_DEMO_PRINTERS: '1' });
const browser = await launchBrowser();
await server.signIn(browser.context);
try {
  for (const size of SIZES) {
    const { stl, triangles } = sphereStl(size.segments, size.rings);
    const res = await fetch(`${server.url}/api/v1/models?name=sphere-${size.name}.stl`, { method: 'POST', body: stl });
    if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
    const { version_id } = await res.json();
    const page = await browser.context.newPage();
    const t0 = performance.now();
    await page.goto(`${server.url}/editor/${version_id}`);
    await page.waitForSelector('[data-testid="editor"][data-ready="true"]', { timeout: 300_000 });
    await page.waitForFunction(() => window.__printfarmEditor?.state()?.frames > 0, null, { timeout: 300_000 });
    const openMs = performance.now() - t0;
    const frames = await page.evaluate((n) => window.__printfarmEditor.benchFrames(n), FRAMES);
    const ops = await page.evaluate(() => window.__printfarmEditor.benchOps());
    console.log(JSON.stringify({ size: size.name, triangles, stl_bytes: stl.length, open_ms: Math.round(openMs), frames, ops }));
    await page.close();
  }
} finally {
  await browser.close();
  await server.stop();
}

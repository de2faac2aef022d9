// Page weight and time to interactive of the first load, against a real server on 127.0.0.1.
//   SERVER_BIN=target/debug/printfarm SITE_ROOT=target/site node end2end/bench/page_weight.mjs [/create /]
// Weight: the bytes on the wire (HTML + wasm + JS + CSS) as the server compresses them for a browser that
// accepts br and gzip. Time to interactive: navigation start until the app has hydrated (the body's
// data-hydrated attribute), median of 7 loads in headless Chromium with a cold cache each time.
import http from 'node:http';
import { launchBrowser, startServer } from '../harness.mjs';

function rawSize(url, encoding, cookie) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { 'accept-encoding': encoding, cookie } }, (res) => {
      let n = 0;
      res.on('data', (c) => { n += c.length; });
      res.on('end', () => resolve({ bytes: n, encoding: res.headers['content-encoding'] ?? 'identity', status: res.statusCode }));
    }).on('error', reject);
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

const paths = process.argv.slice(2).length ? process.argv.slice(2) : ['/create', '/'];
const server = await startServer({ PRINTFARM_DEMO_PRINTERS: '6' });
const browser = await launchBrowser();
await server.signIn(browser.context);
// Pages need a signed-in person: the byte counts go with the browser's session cookie.
const cookie = (await browser.context.cookies(server.url)).map((c) => `${c.name}=${c.value}`).join('; ');
try {
  for (const path of paths) {
    const parts = [path, '/pkg/printfarm.wasm', '/pkg/printfarm.js', '/pkg/printfarm.css'];
    let total = { br: 0, gzip: 0, identity: 0 };
    const rows = [];
    for (const p of parts) {
      const row = { path: p };
      for (const enc of ['br', 'gzip', 'identity']) {
        const r = await rawSize(server.url + p, enc, cookie);
        if (r.status !== 200) throw new Error(`${p}: HTTP ${r.status}`);
        row[enc] = r.bytes;
        total[enc] += r.bytes;
      }
      rows.push(row);
    }
    const times = [];
    for (let i = 0; i < 7; i++) {
      const page = await browser.context.newPage();
      const cdp = await browser.context.newCDPSession(page);
      await cdp.send('Network.clearBrowserCache');
      await page.goto(server.url + path);
      await page.waitForFunction(() => document.body.dataset.hydrated === 'true', null, { polling: 'raf', timeout: 20_000 });
      times.push(await page.evaluate(() => performance.now()));
      await page.close();
    }
    console.log(`\n${path}`);
    for (const r of rows) console.log(`  ${r.path.padEnd(22)} br ${kb(r.br).padStart(10)}  gzip ${kb(r.gzip).padStart(10)}  raw ${kb(r.identity).padStart(10)}`);
    console.log(`  ${'total'.padEnd(22)} br ${kb(total.br).padStart(10)}  gzip ${kb(total.gzip).padStart(10)}  raw ${kb(total.identity).padStart(10)}`);
    console.log(`  time to interactive: median ${median(times).toFixed(0)} ms (min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)}) over ${times.length} cold loads`);
  }
} finally {
  await browser.close();
  await server.stop();
}

// Kiosk mode: a shared touchscreen opens /kiosk once; from then on it shows only Create, the editor and
// jobs, with Create as home, and starts over on a blank Create page after a while without a touch.
// Signed in as a kiosk account, people sign in on it with their name and PIN, and are signed out again
// when they walk away.
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

test('a kiosk is locked to making things and starts over when left alone', async () => {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(server.url + '/kiosk?idle=10');
  assert.equal(new URL(page.url()).pathname, '/create');
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  assert.ok(await page.locator('.layout.kiosk').count(), 'the layout is in kiosk mode');
  const links = await page.locator('nav.nav li a').allTextContents();
  assert.deepEqual(links.map((l) => l.replace(/[^A-Za-z]/g, '')), ['Create', 'Jobs']);
  await page.screenshot({ path: join(ensureArtifacts(), 'kiosk-create.png') });

  // The home page is Create, and farm pages are not shown (rendered so by the server already).
  const home = await (await fetch(server.url + '/', { headers: { cookie: 'printfarm_kiosk=10' } })).text();
  assert.match(home, /data-testid="prompt"/);
  const settings = await (await fetch(server.url + '/settings', { headers: { cookie: 'printfarm_kiosk=10' } })).text();
  assert.match(settings, /Not on this screen/);

  // Someone types and walks away: after the idle time the screen is a blank Create page again.
  await page.getByTestId('prompt').fill('a name tag for Sam');
  const typedAt = Date.now();
  await page.waitForFunction(() => document.querySelector('[data-testid="prompt"]')?.value === '' &&
    document.body.dataset.hydrated === 'true', null, { timeout: 30_000 });
  const waited = Date.now() - typedAt;
  assert.ok(waited >= 9_000, `started over after ${waited} ms, before the 10 s idle time`);
  assert.equal(new URL(page.url()).pathname, '/create');

  // Leaving kiosk mode makes it an ordinary browser again.
  await page.goto(server.url + '/kiosk/off');
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  assert.equal(await page.locator('.layout.kiosk').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test('people sign in on a kiosk with their PIN and are signed out when they walk away', async () => {
  await server.addUser('kiosk-lab', 'kiosk');
  await server.addUser('maya', 'maker', { pin: '2468' });
  const device = await launchBrowser();
  try {
    await server.signIn(device.context, 'kiosk-lab', 'kiosk');
    const page = await device.context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url + '/kiosk?idle=10');
    await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
    // The kiosk itself may look and make; to print, a person signs in.
    await page.getByTestId('sign-in-link').click();
    await page.waitForSelector('[data-testid="quick-sign-in"]', { timeout: 20_000 });
    await page.screenshot({ path: join(ensureArtifacts(), 'kiosk-sign-in.png') });
    const form = page.getByTestId('quick-sign-in');
    await form.locator('input[name="username"]').fill('maya');
    await form.locator('input[name="pin"]').fill('1111');
    await form.locator('button[type="submit"]').click();
    await page.waitForSelector('[data-testid="sign-in-error"]', { timeout: 20_000 });
    assert.match(await page.getByTestId('sign-in-error').textContent(), /do not match/);
    await form.locator('input[name="pin"]').fill('2468');
    await form.locator('button[type="submit"]').click();
    await page.waitForSelector('[data-testid="who"][data-quick="true"]', { timeout: 20_000 });
    assert.equal(new URL(page.url()).pathname, '/create');
    assert.match(await page.getByTestId('who').textContent(), /maya/);
    const me = await page.evaluate(async () => (await (await fetch('/api/v1/auth/me')).json()).user);
    assert.equal(me.username, 'maya');

    // Maya walks away: after the idle time she is signed out and the kiosk is itself again.
    const leftAt = Date.now();
    await page.waitForSelector('[data-testid="sign-in-link"]', { timeout: 40_000 });
    assert.ok(Date.now() - leftAt >= 8_000, 'not before the idle time');
    const after = await page.evaluate(async () => (await (await fetch('/api/v1/auth/me')).json()).user);
    assert.equal(after.username, 'kiosk-lab');
    assert.deepEqual(errors, []);
  } finally {
    await device.close();
  }
});

// Signing in through the page: an anonymous visitor is sent to /login and back where they were going; a
// wrong password gets a sentence; signing out ends the session on the server; a maker is refused what
// only managers may do even when they call the server function by hand.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureArtifacts, launchBrowser, startServer } from '../harness.mjs';

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startServer({ PRINTFARM_DEMO_PRINTERS: '1' }), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('sign in from the page, land where you were going, sign out', async () => {
  await server.addUser('sam', 'maker');
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(server.url + '/queue');
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal(new URL(page.url()).searchParams.get('next'), '/queue');
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  const form = page.getByTestId('sign-in-form');
  await form.locator('input[name="username"]').fill('sam');
  await form.locator('input[name="password"]').fill('not the password');
  await form.locator('button[type="submit"]').click();
  await page.waitForSelector('[data-testid="sign-in-error"]', { timeout: 20_000 });
  assert.match(await page.getByTestId('sign-in-error').textContent(), /do not match/);
  await page.screenshot({ path: join(ensureArtifacts(), 'sign-in.png') });

  await form.locator('input[name="password"]').fill('sam-password');
  await form.locator('button[type="submit"]').click();
  await page.waitForURL((u) => u.pathname === '/queue', { timeout: 20_000 });
  // The queue page is a fresh load: a click before it hydrates would be lost.
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  await page.waitForSelector('[data-testid="who"][data-role="maker"]', { timeout: 20_000 });

  // A maker's call to a manager's server function is refused by the server, whatever the page shows.
  const refused = await page.evaluate(async () => {
    const res = await fetch('/api/queue/place', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'id=1',
    });
    return { status: res.status, text: await res.text() };
  });
  assert.equal(refused.status, 403);
  assert.match(refused.text, /may not do that/);

  await page.getByTestId('sign-out').click();
  await page.waitForURL((u) => u.pathname === '/login', { timeout: 20_000 });
  const me = await page.evaluate(async () => (await fetch('/api/v1/auth/me')).status);
  assert.equal(me, 401, 'the session ended on the server');
  assert.deepEqual(errors, []);
  await page.close();
});

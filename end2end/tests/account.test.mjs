// The account page: a maker makes an API key (shown once, then listed by its first characters), the key
// works and can be revoked, and they change their own password.
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

test('a maker makes and revokes an API key and changes their password', async () => {
  await server.addUser('mia', 'maker');
  const context = browser.context;
  await server.signIn(context, 'mia', 'maker');
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(server.url + '/queue');
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  await page.getByTestId('account-link').click();
  await page.waitForURL((u) => u.pathname === '/account', { timeout: 20_000 });
  await page.waitForSelector('[data-testid="new-key-form"]', { timeout: 20_000 });
  const roles = await page.locator('[data-testid="new-key-form"] select option').allTextContents();
  assert.deepEqual(roles, ['Maker'], 'a key can do at most what its owner can');

  await page.locator('[data-testid="new-key-form"] input[name="name"]').fill('PrusaSlicer on my laptop');
  await page.locator('[data-testid="new-key-form"] button[type="submit"]').click();
  const key = (await page.getByTestId('new-key').textContent({ timeout: 20_000 })).trim();
  assert.match(key, /^pf_[A-Za-z0-9_-]{40,}$/);
  const row = page.locator('[data-testid="key-list"] tr', { hasText: 'PrusaSlicer on my laptop' });
  await row.waitFor({ timeout: 20_000 });
  assert.ok(!(await row.textContent()).includes(key), 'the list never shows the key itself');
  await page.screenshot({ path: join(ensureArtifacts(), 'account.png') });

  const me = (k) =>
    page.evaluate(async (k) => {
      const res = await fetch('/api/v1/auth/me', { headers: { 'x-api-key': k }, credentials: 'omit' });
      return { status: res.status, body: res.status === 200 ? await res.json() : null };
    }, k);
  const used = await me(key);
  assert.equal(used.status, 200);
  assert.equal(used.body.user.username, 'mia');

  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.locator('text=revoked').waitFor({ timeout: 20_000 });
  assert.equal((await me(key)).status, 401, 'a revoked key is refused');

  const form = page.getByTestId('password-form');
  await form.locator('input[name="current"]').fill('not it at all');
  await form.locator('input[name="new"]').fill('mia-new-password');
  await form.locator('input[name="again"]').fill('mia-new-password');
  await form.locator('button[type="submit"]').click();
  await page.waitForSelector('[data-testid="password-said"].error', { timeout: 20_000 });
  assert.match(await page.getByTestId('password-said').textContent(), /current password/);

  await form.locator('input[name="current"]').fill('mia-password');
  await form.locator('button[type="submit"]').click();
  await page.waitForSelector('[data-testid="password-said"].ok', { timeout: 20_000 });
  const signIn = (password) =>
    page.evaluate(async (password) => {
      const res = await fetch('/api/v1/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'mia', password }),
        credentials: 'omit',
      });
      return res.status;
    }, password);
  assert.equal(await signIn('mia-password'), 401);
  assert.equal(await signIn('mia-new-password'), 200);
  assert.deepEqual(errors, []);
  await page.close();
});

// Starts the real printfarm server on a free loopback port with a fresh data directory, and a
// headless Debian Chromium through playwright-core (which never downloads a browser), or Debian's
// Firefox ESR through puppeteer-core over WebDriver BiDi (the stock browser, no patched build).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';

export const artifacts = resolve('end2end/artifacts');

/** The admin every test server has, made with the server's own CLI before it starts. */
export const ADMIN = { username: 'admin', password: 'e2e-admin-password' };

// Browsers keep cookies per host, not per port: each server gets its own loopback address
// (127.0.0.2, .3, …) so that two servers in one test do not sign each other out.
let nextHost = 2;

/** Every API call of a test carries the admin's key unless it brings its own credentials. */
const serverKeys = new Map();
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init = {}) => {
  const url = typeof input === 'string' ? input : input.url;
  const origin = (() => { try { return new URL(url).origin; } catch { return ''; } })();
  const key = serverKeys.get(origin);
  const headers = new Headers(init.headers ?? {});
  if (key && !headers.has('x-api-key') && !headers.has('authorization')) {
    headers.set('x-api-key', key);
  }
  return realFetch(input, { ...init, headers });
};

export async function startServer(env = {}) {
  const bin = process.env.SERVER_BIN ?? resolve('target/debug/printfarm');
  const dataDir = mkdtempSync(join(tmpdir(), 'printfarm-e2e-'));
  const host = `127.0.0.${nextHost++}`;
  execFileSync(bin, ['admin', 'create', '--username', ADMIN.username, '--password-stdin', '--data-dir', dataDir], {
    input: `${ADMIN.password}\n`,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const child = spawn(bin, ['serve', '--listen', `${host}:0`, '--data-dir', dataDir], {
    env: {
      ...process.env,
      PRINTFARM_SITE_ROOT: process.env.SITE_ROOT ?? resolve('target/site'),
      PRINTFARM_LOG: 'info',
      // The printers these tests add by hand live on this machine (127.0.0.1), which a box refuses to reach
      // unless an admin allows it (SECURITY.md, "Where the box connects"); the tests play that admin.
      PRINTFARM_ALLOW_LOCAL_NETWORK: 'true',
      ...env,
    },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let log = '';
  const address = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start in 30 s:\n${log}`)), 30_000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /listening address=(\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.on('exit', (code) => fail(new Error(`server exited with ${code}:\n${log}`)));
  });
  const url = `http://${address}`;
  const session = await signInAs(url, ADMIN.username, ADMIN.password);
  const key = await newKey(url, session);
  serverKeys.set(url, key);
  return {
    url,
    key,
    session,
    log: () => log,
    /** Makes `username` with `role` and password `${username}-password` (plus e.g. `{ pin }`). */
    async addUser(username, role, extra = {}) {
      return ensureUser(url, key, username, role, extra);
    },
    /** An API key of `username` (made with `role` if they do not exist yet). */
    async keyFor(username, role = 'maker') {
      return userKey(url, key, username, role);
    },
    /** Signs the browser context in as the admin (or as `username`, made with `role` if needed). */
    async signIn(context, username, role = 'maker') {
      const cookie = username ? await userSession(url, key, username, role) : { name: 'printfarm_session', value: session };
      await context.addCookies([{ ...cookie, url }]);
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((ok) => child.on('exit', ok));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The session cookie in a sign-in answer: a person's, or a kiosk device's. */
function cookieOf(res) {
  const set = res.headers.getSetCookie().find((c) => /^printfarm_(session|device)=/.test(c));
  assert(set, `no session cookie (${res.status})`);
  const [name, value] = set.split(';')[0].split('=');
  return { name, value };
}

function sessionOf(res) {
  return cookieOf(res).value;
}

async function signInAs(url, username, password) {
  const res = await realFetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`sign in as ${username}: ${res.status} ${await res.text()}`);
  return sessionOf(res);
}

async function newKey(url, session, body = { name: 'end-to-end tests' }) {
  const res = await realFetch(`${url}/api/v1/api-keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: `printfarm_session=${session}`, origin: url },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`API key: ${res.status} ${await res.text()}`);
  return (await res.json()).key;
}

/** Makes `username` with `role` (unless they exist); returns their id. */
async function ensureUser(url, adminKey, username, role, extra = {}) {
  const headers = { 'content-type': 'application/json', 'x-api-key': adminKey };
  const res = await realFetch(`${url}/api/v1/users`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ username, role, password: `${username}-password`, ...extra }),
  });
  if (res.status !== 201 && res.status !== 400) throw new Error(`user ${username}: ${res.status} ${await res.text()}`);
  const users = await (await realFetch(`${url}/api/v1/users`, { headers })).json();
  return users.find((u) => u.username === username).id;
}

async function userKey(url, adminKey, username, role) {
  const id = await ensureUser(url, adminKey, username, role);
  const res = await realFetch(`${url}/api/v1/api-keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': adminKey },
    body: JSON.stringify({ name: 'end-to-end tests', user_id: id }),
  });
  if (res.status !== 201) throw new Error(`API key for ${username}: ${res.status} ${await res.text()}`);
  return (await res.json()).key;
}

async function userSession(url, adminKey, username, role) {
  await ensureUser(url, adminKey, username, role);
  const res = await realFetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: `${username}-password` }),
  });
  return cookieOf(res);
}

export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'printfarm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 }, // a 10-inch kiosk
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-quic',
      '--disable-sync',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export function ensureArtifacts() {
  mkdirSync(artifacts, { recursive: true });
  return artifacts;
}

/**
 * Debian's Firefox ESR, driven over WebDriver BiDi by puppeteer-core, on its own virtual X display:
 * headless Firefox has no software WebGL, while on Xvfb it draws with Mesa's llvmpipe, as a kiosk
 * without a GPU would.
 */
export async function launchFirefox() {
  const xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  const display = await new Promise((ok, fail) => {
    let text = '';
    xvfb.stdio[3].on('data', (d) => {
      text += d;
      if (text.includes('\n')) ok(text.trim());
    });
    xvfb.on('exit', (code) => fail(new Error(`Xvfb exited (${code})`)));
    setTimeout(() => fail(new Error('Xvfb did not start in 20 s')), 20_000);
  });
  let browser;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr',
      headless: false,
      defaultViewport: { width: 1280, height: 800 },
      env: { ...process.env, DISPLAY: `:${display}`, LIBGL_ALWAYS_SOFTWARE: '1' },
      extraPrefsFirefox: { 'webgl.force-enabled': true, 'gfx.blocklist.all': -1 },
    });
  } catch (e) {
    xvfb.kill();
    throw e;
  }
  return {
    browser,
    async close() {
      await browser.close();
      xvfb.kill();
    },
  };
}

/**
 * Runs in the page (`page.evaluate(editorPixel, [x, y])`, Playwright or puppeteer alike): the editor
 * canvas's RGBA under a point given in CSS pixels from its top left.
 */
export function editorPixel([x, y]) {
    const canvas = document.querySelector('[data-testid="editor-canvas"]');
    const gl = canvas.getContext('webgl2');
    const k = canvas.width / canvas.clientWidth;
    const out = new Uint8Array(4);
    gl.readPixels(Math.round(x * k), Math.round(canvas.height - 1 - y * k), 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, out);
    return Array.from(out);
}

// Shared fixture and helpers of the browser tests (the same as desktop.test.mjs's own): the
// server (`switchboard e2e`) with its control API, one Chromium for the file, per-test browser
// contexts with a screenshot each, and the desktop's common steps by accessible names (R-10.6).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, existsSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
export const SHOTS = join(HERE, 'screenshots');
// The screenshots the README shows: taken by the tests, so they always show the desktop as it is.
export const DOC_SHOTS = join(REPO, 'docs', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const WAIT_MS = 15_000;

export function binaryPath() {
  if (process.env.SWITCHBOARD_BIN) return resolve(process.env.SWITCHBOARD_BIN);
  if (process.env.CARGO_TARGET_DIR) return resolve(REPO, process.env.CARGO_TARGET_DIR, 'debug', 'switchboard');
  return resolve(HERE, '..', '..', 'target', 'debug', 'switchboard');
}

let browser;

/** Registers the suite's set-up (build, Chromium) and tear-down; call once per test file. */
export function useBrowser() {
before(async () => {
  // Build the binary unless one was given (a no-op when it is up to date).
  if (!process.env.SWITCHBOARD_BIN && process.env.SWITCHBOARD_SKIP_BUILD !== '1') {
    const r = spawnSync('cargo', ['build', '-p', 'switchboard', '--bin', 'switchboard'], {
      cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'], timeout: 20 * 60_000,
    });
    assert.equal(r.status, 0, 'cargo build -p switchboard failed');
  }
  assert.ok(existsSync(binaryPath()), `no switchboard binary at ${binaryPath()} (set SWITCHBOARD_BIN)`);
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  mkdirSync(DOC_SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(async () => {
  if (browser) await browser.close();
});
}

// ---------- the server fixture ----------

export async function startServer() {
  const proc = spawn(binaryPath(), ['e2e', '--listen', '127.0.0.1:0', '--control', '127.0.0.1:0'], {
    cwd: HERE,
    env: { ...process.env, SWITCHBOARD_LOG: process.env.SWITCHBOARD_LOG || 'warn', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  proc.stderr.on('data', (d) => logs.push(d.toString()));
  const exited = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  const line = await new Promise((res, rej) => {
    const rl = createInterface({ input: proc.stdout });
    rl.once('line', (l) => res(l));
    exited.then((e) => rej(new Error(`switchboard e2e exited early (${JSON.stringify(e)}):\n${logs.join('')}`)));
  });
  const urls = JSON.parse(line);
  return {
    ...urls,
    logs,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

export async function control(srv, path, body) {
  const resp = await fetch(`${srv.control}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const data = await resp.json();
  assert.ok(resp.ok, `control ${path}: ${resp.status} ${JSON.stringify(data)}`);
  return data;
}

/** The simulated customer `waId` writes `text`; resolves once Switchboard answered the webhook. */
export async function customerWrites(srv, waId, name, text) {
  const r = await control(srv, `/customers/${waId}/text`, { name, text });
  assert.equal(r.status, 200, `webhook answered ${r.status}`);
  return r;
}

export const advanceClock = (srv, secs) => control(srv, '/clock/advance', { secs });

/** The customer writes `count` texts "PREFIX 1" … "PREFIX N" at once (batched webhooks). */
export const customerWritesMany = (srv, waId, name, count, prefix) => control(srv, `/customers/${waId}/texts`, { name, count, prefix });

/** An admin call to the public API (e.g. settings), with a fresh admin session. */
export async function adminApi(srv, method, path, body) {
  const login = await fetch(`${srv.base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: srv.admin_password }),
  });
  assert.ok(login.ok, `admin login answered ${login.status}`);
  const { token } = await login.json();
  const resp = await fetch(`${srv.base}${path}`, {
    method, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await resp.json();
  assert.ok(resp.ok, `${method} ${path}: ${resp.status} ${JSON.stringify(data)}`);
  return data;
}

/** A screenshot for the README (docs/screenshots/NAME.png), of the viewport as a person sees it. */
export const docShot = (page, name) => page.screenshot({ path: join(DOC_SHOTS, `${name}.png`) });

/** A small PNG (a blue square with a white diagonal), made here so the tests need no fixture file. */
export function makePng(size = 48) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < size; y += 1) {
    const row = Buffer.alloc(1 + size * 3);
    for (let x = 0; x < size; x += 1) {
      const white = Math.abs(x - y) < 3;
      row[1 + x * 3] = white ? 255 : 11;
      row[2 + x * 3] = white ? 255 : 92;
      row[3 + x * 3] = white ? 255 : 173;
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Runs `body` with a fresh server and one browser page per agent, then takes a screenshot of every
 * page into screenshots/ (also when the test fails) and tears everything down.
 */
export function desktopTest(name, agents, body, options = {}) {
  const { contextOptions = {}, ...testOptions } = options;
  test(name, testOptions, async () => {
    const srv = await startServer();
    const contexts = [];
    const pages = {};
    let failed = false;
    try {
      for (const agent of agents) {
        const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
        ctx.setDefaultTimeout(WAIT_MS);
        contexts.push(ctx);
        pages[agent] = await ctx.newPage();
      }
      await body({ srv, pages, contexts });
    } catch (e) {
      failed = true;
      e.message += `\n--- server log ---\n${srv.logs.join('').slice(-4000)}`;
      throw e;
    } finally {
      const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
      for (const [agent, page] of Object.entries(pages)) {
        const file = join(SHOTS, `${slug}${agents.length > 1 ? `-${agent}` : ''}${failed ? '-FAILED' : ''}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      }
      for (const ctx of contexts) await ctx.close().catch(() => {});
      await srv.stop();
    }
  });
}

// ---------- desktop helpers (accessible names only, R-10.6) ----------

export async function login(page, srv, username) {
  await page.goto(srv.base);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(srv.agent_password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
  // The websocket is up: from now on no event is missed.
  await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
}

export async function setStatus(page, label) {
  const done = page.waitForResponse((r) => r.url().endsWith('/api/v1/me/presence') && r.request().method() === 'PUT');
  await page.getByLabel('Status', { exact: true }).selectOption({ label });
  const resp = await done;
  assert.ok(resp.ok(), `presence change answered ${resp.status()}`);
}

export const offerCard = (page, customer) => page.getByRole('article', { name: new RegExp(`New conversation: ${customer}`) });
export const transcript = (page) => page.getByRole('list', { name: 'Transcript' });
export const outbound = (page, text) => transcript(page).locator('li.msg.out').filter({ hasText: text });

export async function acceptOffer(page, customer, firstMessage) {
  const card = offerCard(page, customer);
  await card.waitFor();
  await card.getByRole('button', { name: 'Accept' }).click();
  await card.waitFor({ state: 'detached' });
  await transcript(page).getByText(firstMessage).waitFor();
}

export async function sendText(page, text, { withEnter = false } = {}) {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  const sent = page.waitForResponse((r) => /\/api\/v1\/interactions\/[^/]+\/messages$/.test(r.url()) && r.request().method() === 'POST');
  if (withEnter) await box.press('Enter');
  else await page.getByRole('button', { name: 'Send' }).click();
  const resp = await sent;
  assert.ok(resp.ok(), `send answered ${resp.status()}`);
  await outbound(page, text).waitFor();
}

/** The agent ends the selected interaction and submits the wrap-up with `disposition`. */
export async function endAndWrapUp(page, customer, disposition = 'Solved') {
  await page.getByRole('button', { name: 'End', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: `Wrap-up: ${customer}` });
  await dialog.getByLabel('Disposition (required)').selectOption({ label: disposition });
  const done = page.waitForResponse((r) => r.url().endsWith('/wrap-up') && r.request().method() === 'POST');
  await dialog.getByRole('button', { name: 'Submit wrap-up' }).click();
  assert.ok((await done).ok());
  await dialog.waitFor({ state: 'hidden' });
}

export const interactionItem = (page, customer) => page.getByRole('navigation', { name: 'Interactions' }).getByRole('button', { name: new RegExp(customer) });

/** A call to the public API as the page's logged-in agent (its session token). */
export async function pageApi(page, method, path, body) {
  return page.evaluate(async ({ method, path, body }) => {
    const token = sessionStorage.getItem('switchboard.token');
    const r = await fetch(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, data: await r.json() };
  }, { method, path, body });
}

// Real-browser tests of the agent desktop: Debian's Chromium driven by playwright-core, against the
// real server started by `switchboard e2e` (fresh SQLite database, manual clock, the WhatsApp
// simulator as Cloud API). Each test gets its own server, so tests never see each other's data.
//
// No fixed sleeps: every wait is a Playwright auto-waiting locator (`waitFor`) or a wait for a
// network response; time-outs are provoked by advancing the server's manual clock.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const SHOTS = join(HERE, 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const WAIT_MS = 15_000;

function binaryPath() {
  if (process.env.SWITCHBOARD_BIN) return resolve(process.env.SWITCHBOARD_BIN);
  if (process.env.CARGO_TARGET_DIR) return resolve(REPO, process.env.CARGO_TARGET_DIR, 'debug', 'switchboard');
  return resolve(HERE, '..', '..', 'target', 'debug', 'switchboard');
}

let browser;

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
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(async () => {
  if (browser) await browser.close();
});

// ---------- the server fixture ----------

async function startServer() {
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

async function control(srv, path, body) {
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
async function customerWrites(srv, waId, name, text) {
  const r = await control(srv, `/customers/${waId}/text`, { name, text });
  assert.equal(r.status, 200, `webhook answered ${r.status}`);
  return r;
}

const advanceClock = (srv, secs) => control(srv, '/clock/advance', { secs });

/**
 * Runs `body` with a fresh server and one browser page per agent, then takes a screenshot of every
 * page into screenshots/ (also when the test fails) and tears everything down.
 */
function desktopTest(name, agents, body, options = {}) {
  test(name, options, async () => {
    const srv = await startServer();
    const contexts = [];
    const pages = {};
    let failed = false;
    try {
      for (const agent of agents) {
        const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        ctx.setDefaultTimeout(WAIT_MS);
        contexts.push(ctx);
        pages[agent] = await ctx.newPage();
      }
      await body({ srv, pages });
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

async function login(page, srv, username) {
  await page.goto(srv.base);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(srv.agent_password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
  // The websocket is up: from now on no event is missed.
  await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
}

async function setStatus(page, label) {
  const done = page.waitForResponse((r) => r.url().endsWith('/api/v1/me/presence') && r.request().method() === 'PUT');
  await page.getByLabel('Status', { exact: true }).selectOption({ label });
  const resp = await done;
  assert.ok(resp.ok(), `presence change answered ${resp.status()}`);
}

const offerCard = (page, customer) => page.getByRole('article', { name: new RegExp(`New conversation: ${customer}`) });
const transcript = (page) => page.getByRole('list', { name: 'Transcript' });
const outbound = (page, text) => transcript(page).locator('li.msg.out').filter({ hasText: text });

async function acceptOffer(page, customer, firstMessage) {
  const card = offerCard(page, customer);
  await card.waitFor();
  await card.getByRole('button', { name: 'Accept' }).click();
  await card.waitFor({ state: 'detached' });
  await transcript(page).getByText(firstMessage).waitFor();
}

async function sendText(page, text, { withEnter = false } = {}) {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  const sent = page.waitForResponse((r) => /\/api\/v1\/interactions\/[^/]+\/messages$/.test(r.url()) && r.request().method() === 'POST');
  if (withEnter) await box.press('Enter');
  else await page.getByRole('button', { name: 'Send' }).click();
  const resp = await sent;
  assert.ok(resp.ok(), `send answered ${resp.status()}`);
  await outbound(page, text).waitFor();
}

// ---------- tests ----------

desktopTest('login rejects a wrong password, then an agent logs in and goes Available', ['ann'], async ({ srv, pages: { ann } }) => {
  await ann.goto(srv.base);
  await ann.getByLabel('Username').fill('ann');
  await ann.getByLabel('Password').fill('not-the-password');
  await ann.getByRole('button', { name: 'Log in' }).click();
  await ann.locator('#login-error').filter({ hasText: /\S/ }).waitFor();
  await login(ann, srv, 'ann');
  await ann.getByText('Ann Agent').waitFor();
  await setStatus(ann, 'Available');
  assert.equal(await ann.getByLabel('Status', { exact: true }).inputValue(), 'available');
  await ann.getByText('No interactions yet').waitFor();
});

desktopTest('a customer writes, the offer shows, Accept opens the transcript', ['ann', 'bob'], async ({ srv, pages: { ann, bob } }) => {
  await login(ann, srv, 'ann');
  await login(bob, srv, 'bob');
  await setStatus(ann, 'Available');
  await setStatus(bob, 'On break');
  await customerWrites(srv, '4915110000001', 'Carla Customer', 'Hi, my parcel is late');
  const card = offerCard(ann, 'Carla Customer');
  await card.waitFor();
  await card.getByText('Hi, my parcel is late').waitFor();
  assert.equal(await card.getByRole('button', { name: 'Reject' }).isEnabled(), true, 'ann may reject');
  // Bob is on break: no offer for him.
  assert.equal(await bob.getByRole('article').count(), 0);
  await acceptOffer(ann, 'Carla Customer', 'Hi, my parcel is late');
  await ann.getByRole('heading', { name: 'Carla Customer' }).waitFor();
  await ann.getByRole('navigation', { name: 'Interactions' }).getByRole('button', { name: /Carla Customer/ }).waitFor();
  // A later message arrives live.
  await customerWrites(srv, '4915110000001', 'Carla Customer', 'Order 1234');
  await transcript(ann).getByText('Order 1234').waitFor();
  assert.equal(await bob.getByRole('article').count(), 0);
});

desktopTest('Reject is disabled with a reason for an agent without permission', ['ann', 'bob'], async ({ srv, pages: { ann, bob } }) => {
  await login(ann, srv, 'ann');
  await login(bob, srv, 'bob');
  await setStatus(ann, 'Offline');
  await setStatus(bob, 'Available');
  await customerWrites(srv, '4915110000002', 'Dora Customer', 'Can someone help?');
  const card = offerCard(bob, 'Dora Customer');
  await card.waitFor();
  const reject = card.getByRole('button', { name: 'Reject' });
  assert.equal(await reject.isDisabled(), true, 'Reject must be disabled for bob');
  const reason = card.getByText('You may not reject offers (no permission).');
  await reason.waitFor();
  assert.match(await reject.getAttribute('aria-describedby'), /^offer-rr-/);
  assert.equal(await reason.getAttribute('id'), await reject.getAttribute('aria-describedby'));
  assert.equal(await ann.getByRole('article').count(), 0);
  await bob.screenshot({ path: join(SHOTS, 'offer-reject-disabled.png') });
  await acceptOffer(bob, 'Dora Customer', 'Can someone help?');
});

desktopTest('an offer that times out puts the agent in RONA; the customer goes to another agent', ['ann', 'bob'], async ({ srv, pages: { ann, bob } }) => {
  await login(ann, srv, 'ann');
  await login(bob, srv, 'bob');
  await setStatus(ann, 'Available');
  await setStatus(bob, 'On break');
  await customerWrites(srv, '4915110000003', 'Emil Customer', 'Hello?');
  const card = offerCard(ann, 'Emil Customer');
  await card.waitFor();
  await card.getByText(/Answer within/).waitFor();
  await advanceClock(srv, 31); // the queue's acceptance interval is 30 s
  await card.waitFor({ state: 'detached' });
  const banner = ann.getByRole('alert').filter({ hasText: 'RONA — you missed an offer.' });
  await banner.waitFor();
  assert.equal(await ann.getByLabel('Status', { exact: true }).inputValue(), 'rona');
  await ann.screenshot({ path: join(SHOTS, 'rona-banner.png') });
  const back = ann.waitForResponse((r) => r.url().endsWith('/api/v1/me/presence') && r.request().method() === 'PUT');
  await banner.getByRole('button', { name: 'Back to Available' }).click();
  assert.ok((await back).ok());
  await banner.waitFor({ state: 'hidden' });
  assert.equal(await ann.getByLabel('Status', { exact: true }).inputValue(), 'available');
  // The customer was never dropped: ann is excluded from re-offers of it for a while (R-2.8),
  // so it goes to bob as soon as he is available.
  await setStatus(bob, 'Available');
  await acceptOffer(bob, 'Emil Customer', 'Hello?');
  assert.equal(await ann.getByRole('article').count(), 0);
});

desktopTest('a sent text shows delivered and read ticks', ['ann'], async ({ srv, pages: { ann } }) => {
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000004', 'Fritz Customer', 'Is the shop open?');
  await acceptOffer(ann, 'Fritz Customer', 'Is the shop open?');
  await sendText(ann, 'Yes, until 8 pm.');
  const msg = outbound(ann, 'Yes, until 8 pm.');
  // The simulator reports sent (0.2 s), delivered (+0.6 s) and read (+2.5 s).
  await msg.getByLabel('Delivered', { exact: true }).waitFor();
  await msg.getByLabel('Read', { exact: true }).waitFor();
  // Enter sends too (R-3.4), and the box is emptied.
  await sendText(ann, 'Anything else?', { withEnter: true });
  assert.equal(await ann.getByRole('textbox', { name: 'Message' }).inputValue(), '');
  await outbound(ann, 'Anything else?').getByLabel('Read', { exact: true }).waitFor();
});

desktopTest('a failed delivery shows a readable reason live, without reloading', ['ann'], async ({ srv, pages: { ann } }) => {
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000015', 'Gina Customer', 'Call me back');
  await acceptOffer(ann, 'Gina Customer', 'Call me back');
  await control(srv, '/faults/undeliverable', { wa_id: '4915110000015' });
  await sendText(ann, 'We will call you.');
  await ann.getByRole('navigation', { name: 'Interactions' }).getByText('⚠ Failed delivery').waitFor();
  const msg = outbound(ann, 'We will call you.');
  await msg.getByLabel('Failed', { exact: true }).waitFor({ timeout: 3000 });
  const text = await msg.getByText(/^Not delivered: /).textContent();
  assert.doesNotMatch(text, /unknown error|\[object Object\]/, `the reason is readable: ${text}`);
  assert.match(text, /131026|undeliverable/i);
});

desktopTest('End opens the wrap-up; the disposition is required; Submit wrap-up completes it', ['ann'], async ({ srv, pages: { ann } }) => {
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000006', 'Hans Customer', 'Thanks, that is all');
  await acceptOffer(ann, 'Hans Customer', 'Thanks, that is all');
  await ann.getByRole('button', { name: 'End', exact: true }).click();
  const dialog = ann.getByRole('dialog', { name: 'Wrap-up: Hans Customer' });
  await dialog.waitFor();
  await dialog.getByRole('timer').filter({ hasText: 'Completes on its own in' }).waitFor();
  await ann.getByRole('navigation', { name: 'Interactions' }).getByText(/Wrap-up/).waitFor();
  const wrapRequests = [];
  ann.on('request', (r) => { if (r.url().endsWith('/wrap-up')) wrapRequests.push(r.url()); });
  // Without a disposition the form refuses (the browser's own validation of the required select).
  const disposition = dialog.getByLabel('Disposition (required)');
  assert.equal(await disposition.evaluate((e) => e.required), true);
  await dialog.getByRole('button', { name: 'Submit wrap-up' }).click();
  assert.equal(await disposition.evaluate((e) => e.validity.valueMissing), true);
  assert.deepEqual(wrapRequests, [], 'no wrap-up was submitted without a disposition');
  assert.equal(await dialog.isVisible(), true);
  await ann.screenshot({ path: join(SHOTS, 'wrap-up-disposition-required.png') });
  await disposition.selectOption({ label: 'Solved' });
  await dialog.getByLabel('Note').fill('Customer satisfied.');
  const done = ann.waitForResponse((r) => r.url().endsWith('/wrap-up') && r.request().method() === 'POST');
  await dialog.getByRole('button', { name: 'Submit wrap-up' }).click();
  assert.ok((await done).ok());
  await dialog.waitFor({ state: 'hidden' });
  await ann.getByText('No interactions yet').waitFor();
});

desktopTest('the wrap-up countdown completes on its own', ['ann'], async ({ srv, pages: { ann } }) => {
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000007', 'Ida Customer', 'Bye');
  await acceptOffer(ann, 'Ida Customer', 'Bye');
  await ann.getByRole('button', { name: 'End', exact: true }).click();
  const dialog = ann.getByRole('dialog', { name: 'Wrap-up: Ida Customer' });
  await dialog.waitFor();
  await advanceClock(srv, 11); // the queue's post-processing time is 10 s
  await dialog.waitFor({ state: 'hidden' });
  await ann.getByText('No interactions yet').waitFor();
});

desktopTest('a dropped websocket catches up on reconnect', ['ann'], async ({ srv, pages: { ann } }) => {
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000008', 'Jana Customer', 'First message');
  await acceptOffer(ann, 'Jana Customer', 'First message');
  // Drop the socket and hold reconnection attempts (they go to a closed port) until released.
  await ann.evaluate(() => {
    const Real = window.WebSocket;
    window.__wsHeld = true;
    window.__wsUrls = [];
    window.WebSocket = function HeldWebSocket(url, protocols) {
      window.__wsUrls.push(String(url));
      return window.__wsHeld ? new Real('ws://127.0.0.1:9/held') : new Real(url, protocols);
    };
    window.WebSocket.prototype = Real.prototype;
    S.ws.close();
  });
  await ann.getByRole('status').filter({ hasText: 'Reconnecting' }).waitFor();
  await customerWrites(srv, '4915110000008', 'Jana Customer', 'Written while you were away');
  // Nothing polls: while the socket is down the message cannot show.
  assert.equal(await transcript(ann).getByText('Written while you were away').count(), 0);
  await ann.screenshot({ path: join(SHOTS, 'websocket-dropped.png') });
  await ann.evaluate(() => { window.__wsHeld = false; });
  await transcript(ann).getByText('Written while you were away').waitFor({ timeout: 20_000 });
  await ann.getByRole('status').filter({ hasText: 'Live' }).waitFor();
  const urls = await ann.evaluate(() => window.__wsUrls);
  assert.ok(urls.at(-1).includes('since='), `the reconnect resumes from its last event: ${urls.at(-1)}`);
});

// ---------- transfer and conference (two agents) ----------

/** Any offer card for `customer` whose heading starts with `title` (e.g. "Transferred conversation from Ann Agent"). */
const offerCardTitled = (page, title, customer) => page.getByRole('article', { name: `${title}: ${customer}` });
const interactionItem = (page, customer) => page.getByRole('navigation', { name: 'Interactions' }).getByRole('button', { name: new RegExp(customer) });
const systemLine = (page, text) => transcript(page).locator('li.msg.system').filter({ hasText: text });

/** Opens the Transfer / Conference dialog of the selected interaction and picks `targetName`. */
async function pickTarget(page, action, dialogTitle, targetName) {
  await page.getByRole('toolbar', { name: 'Interaction actions' }).getByRole('button', { name: action, exact: true }).click();
  const dialog = page.getByRole('dialog', { name: dialogTitle });
  await dialog.waitFor();
  const path = action === 'Transfer' ? 'transfer' : 'conference';
  const done = page.waitForResponse((r) => r.url().endsWith(`/${path}`) && r.request().method() === 'POST');
  await dialog.getByRole('button', { name: new RegExp(`^${targetName}`) }).click();
  const resp = await done;
  assert.ok(resp.ok(), `${path} answered ${resp.status()}`);
  await dialog.waitFor({ state: 'hidden' });
}

/** Ann takes a new customer while Bob is on break, then Bob becomes available. */
async function annOwnsCustomer(srv, ann, bob, waId, customer, firstMessage) {
  await login(ann, srv, 'ann');
  await login(bob, srv, 'bob');
  await setStatus(ann, 'Available');
  await setStatus(bob, 'On break');
  await customerWrites(srv, waId, customer, firstMessage);
  await acceptOffer(ann, customer, firstMessage);
  await setStatus(bob, 'Available');
}

desktopTest('a transfer to an agent: Bob accepts, Ann goes to wrap-up', ['ann', 'bob'], async ({ srv, pages: { ann, bob } }) => {
  await annOwnsCustomer(srv, ann, bob, '4915110000021', 'Kai Customer', 'I need billing help');
  // Bob is listed only once he is available; the dialog is opened after that.
  await pickTarget(ann, 'Transfer', 'Transfer to a queue or an agent', 'Transfer to Bob Agent');
  // Ann is out of the conversation at once: her interaction is in wrap-up.
  await interactionItem(ann, 'Kai Customer').getByText(/Wrap-up/).waitFor();
  await ann.getByRole('status').filter({ hasText: 'In wrap-up' }).waitFor();
  await systemLine(ann, 'Ann Agent transferred to Bob Agent').waitFor();
  assert.equal(await ann.getByRole('button', { name: 'Wrap-up…' }).isVisible(), true);
  // Bob gets a transfer offer that names Ann.
  const card = offerCardTitled(bob, 'Transferred conversation from Ann Agent', 'Kai Customer');
  await card.waitFor();
  await card.getByText('I need billing help').waitFor();
  await card.getByRole('button', { name: 'Accept' }).click();
  await card.waitFor({ state: 'detached' });
  await bob.getByRole('heading', { name: 'Kai Customer' }).waitFor();
  await transcript(bob).getByText('I need billing help').waitFor();
  await systemLine(bob, 'Bob Agent accepted the transfer from Ann Agent').waitFor();
  await bob.getByRole('status').filter({ hasText: 'Active' }).waitFor();
  // The customer's next message reaches Bob, who now owns it; Ann still only wraps up.
  await customerWrites(srv, '4915110000021', 'Kai Customer', 'Invoice 77');
  await transcript(bob).getByText('Invoice 77').waitFor();
  await sendText(bob, 'Looking into invoice 77.');
  await ann.getByRole('button', { name: 'Wrap-up…' }).click();
  const dialog = ann.getByRole('dialog', { name: 'Wrap-up: Kai Customer' });
  await dialog.waitFor();
  await dialog.getByLabel('Disposition (required)').selectOption({ label: 'Needs follow-up' });
  const done = ann.waitForResponse((r) => r.url().endsWith('/wrap-up') && r.request().method() === 'POST');
  await dialog.getByRole('button', { name: 'Submit wrap-up' }).click();
  assert.ok((await done).ok());
  await ann.getByText('No interactions yet').waitFor();
  // Bob still has it.
  await interactionItem(bob, 'Kai Customer').waitFor();
  assert.equal(await bob.getByRole('status').filter({ hasText: 'In wrap-up' }).count(), 0);
});

desktopTest('a transfer that is not answered goes back to the queue and is offered again', ['ann', 'bob'], async ({ srv, pages: { ann, bob } }) => {
  // Bob may not reject: the transfer offer to him times out instead (acceptance interval 30 s).
  await annOwnsCustomer(srv, ann, bob, '4915110000022', 'Lena Customer', 'Wrong department?');
  await pickTarget(ann, 'Transfer', 'Transfer to a queue or an agent', 'Transfer to Bob Agent');
  await interactionItem(ann, 'Lena Customer').getByText(/Wrap-up/).waitFor();
  const card = offerCardTitled(bob, 'Transferred conversation from Ann Agent', 'Lena Customer');
  await card.waitFor();
  assert.equal(await card.getByRole('button', { name: 'Reject' }).isDisabled(), true);
  // First Ann's wrap-up (10 s) completes on its own, the offer to Bob is still pending.
  await advanceClock(srv, 11);
  await ann.getByText('No interactions yet').waitFor();
  assert.equal(await card.isVisible(), true, 'the transfer offer is still pending');
  // Then Bob's offer runs out: Bob is in RONA and the customer is back at the head of the queue,
  // from where it is routed to the only available agent, Ann, as a new (not a transferred) offer.
  await advanceClock(srv, 20);
  await card.waitFor({ state: 'detached' });
  await bob.getByRole('alert').filter({ hasText: 'RONA — you missed an offer.' }).waitFor();
  const again = offerCard(ann, 'Lena Customer');
  await again.waitFor();
  assert.equal(await again.getByRole('heading').textContent(), 'New conversation: Lena Customer');
  await again.getByRole('button', { name: 'Accept' }).click();
  await again.waitFor({ state: 'detached' });
  await transcript(ann).getByText('Wrong department?').waitFor();
  await systemLine(ann, 'Ann Agent transferred to Bob Agent').waitFor();
  await systemLine(ann, 'Bob Agent did not answer the transfer from Ann Agent; back in the queue').waitFor();
  await ann.getByRole('status').filter({ hasText: 'Active' }).waitFor();
  assert.equal(await bob.getByRole('article').count(), 0);
});

desktopTest('a conference: Bob joins, writes live to Ann, End conference puts Bob in wrap-up', ['ann', 'bob'], async ({ srv, pages: { ann, bob } }) => {
  await annOwnsCustomer(srv, ann, bob, '4915110000023', 'Mila Customer', 'Two questions, please');
  await pickTarget(ann, 'Conference', 'Invite to a conference', 'Invite Bob Agent');
  await ann.getByRole('status').filter({ hasText: 'Conference requested' }).waitFor();
  const card = offerCardTitled(bob, 'Conference invitation from Ann Agent', 'Mila Customer');
  await card.waitFor();
  await card.getByRole('button', { name: 'Accept' }).click();
  await card.waitFor({ state: 'detached' });
  await bob.getByRole('heading', { name: 'Mila Customer' }).waitFor();
  // Both transcripts say so (the fixture's display names are "Ann Agent" and "Bob Agent").
  await systemLine(bob, 'Bob Agent joined the conversation').waitFor();
  await systemLine(ann, 'Bob Agent joined the conversation').waitFor();
  await transcript(bob).getByText('Two questions, please').waitFor();
  await ann.getByRole('status').filter({ hasText: /^Conference$/ }).waitFor();
  await bob.getByRole('status').filter({ hasText: /^Conference$/ }).waitFor();
  // Only the owner may transfer or invite; the invited agent may leave with End conference.
  assert.equal(await bob.getByRole('button', { name: 'Transfer', exact: true }).isDisabled(), true);
  assert.equal(await bob.getByRole('button', { name: 'End conference' }).isEnabled(), true);
  // Bob writes; Ann sees it live, and a customer message reaches both.
  await sendText(bob, 'Bob here, I can answer the second one.');
  await outbound(ann, 'Bob here, I can answer the second one.').waitFor();
  await customerWrites(srv, '4915110000023', 'Mila Customer', 'Great, thanks');
  await transcript(ann).getByText('Great, thanks').waitFor();
  await transcript(bob).getByText('Great, thanks').waitFor();
  // Ann ends the conference: Bob goes to wrap-up, Ann keeps the customer.
  const ended = ann.waitForResponse((r) => r.url().endsWith('/conference/end') && r.request().method() === 'POST');
  await ann.getByRole('button', { name: 'End conference' }).click();
  assert.ok((await ended).ok());
  await interactionItem(bob, 'Mila Customer').getByText(/Wrap-up/).waitFor();
  await bob.getByRole('status').filter({ hasText: 'In wrap-up' }).waitFor();
  assert.equal(await bob.getByRole('textbox', { name: 'Message' }).isDisabled(), true);
  await systemLine(ann, 'Bob Agent left the conversation').waitFor();
  await ann.getByRole('status').filter({ hasText: 'Active' }).waitFor();
  assert.equal(await ann.getByRole('button', { name: 'End conference' }).isHidden(), true);
  assert.equal(await ann.getByRole('button', { name: 'Conference', exact: true }).isEnabled(), true);
  await sendText(ann, 'Anything else?');
});

desktopTest('a transfer that is rejected goes back to the queue; the transferring agent can still wrap up', ['ann', 'bob'], async ({ srv, pages: { ann, bob } }) => {
  // Ann may reject, so here Bob transfers to Ann.
  await login(ann, srv, 'ann');
  await login(bob, srv, 'bob');
  await setStatus(ann, 'On break');
  await setStatus(bob, 'Available');
  await customerWrites(srv, '4915110000024', 'Nora Customer', 'Hello there');
  await acceptOffer(bob, 'Nora Customer', 'Hello there');
  await setStatus(ann, 'Available');
  await pickTarget(bob, 'Transfer', 'Transfer to a queue or an agent', 'Transfer to Ann Agent');
  await interactionItem(bob, 'Nora Customer').getByText(/Wrap-up/).waitFor();
  const card = offerCardTitled(ann, 'Transferred conversation from Bob Agent', 'Nora Customer');
  await card.waitFor();
  const rejected = ann.waitForResponse((r) => r.url().endsWith('/reject') && r.request().method() === 'POST');
  await card.getByRole('button', { name: 'Reject' }).click();
  assert.ok((await rejected).ok());
  await card.waitFor({ state: 'detached' });
  // Back in the queue: Bob's wrap-up of his part must stay in his list until he submits it.
  await interactionItem(bob, 'Nora Customer').getByText(/Wrap-up/).waitFor({ timeout: 3000 });
  await bob.getByRole('button', { name: 'Wrap-up…' }).click();
  const dialog = bob.getByRole('dialog', { name: 'Wrap-up: Nora Customer' });
  await dialog.getByLabel('Disposition (required)').selectOption({ label: 'Solved' });
  const done = bob.waitForResponse((r) => r.url().endsWith('/wrap-up') && r.request().method() === 'POST');
  await dialog.getByRole('button', { name: 'Submit wrap-up' }).click();
  assert.ok((await done).ok());
  // Ann is excluded from it for a while (R-2.8): it is offered to Bob again, from the queue.
  const again = offerCard(bob, 'Nora Customer');
  await again.waitFor();
  await again.getByRole('button', { name: 'Accept' }).click();
  await systemLine(bob, 'Ann Agent rejected the transfer from Bob Agent; back in the queue').waitFor();
});

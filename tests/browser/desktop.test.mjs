// Real-browser tests of the agent desktop: Debian's Chromium driven by playwright-core, against the
// real server started by `switchboard e2e` (fresh SQLite database, manual clock, the WhatsApp
// simulator as Cloud API). Each test gets its own server, so tests never see each other's data.
//
// No fixed sleeps: every wait is a Playwright auto-waiting locator (`waitFor`) or a wait for a
// network response; time-outs are provoked by advancing the server's manual clock.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  useBrowser, SHOTS, DOC_SHOTS, WAIT_MS, startServer, control, customerWrites, advanceClock,
  customerWritesMany, adminApi, docShot, makePng, desktopTest, login, setStatus, offerCard,
  transcript, outbound, acceptOffer, sendText, endAndWrapUp, interactionItem, pageApi,
} from './helpers.mjs';

useBrowser();

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
  await ann.getByRole('button', { name: 'Log out' }).click();
  await ann.getByText('You are logged out.').waitFor();
  await ann.getByLabel('Username').fill('ann');
  await docShot(ann, 'login');
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
  await card.getByText(/Answer within \d/).waitFor();
  await ann.getByText('Load 1/3').waitFor(); // an offer counts towards the load
  await docShot(ann, 'offer');
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
  // The customer was never dropped: ann is excluded from re-offers of it for a while,
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
  // Enter sends too, and the box is emptied.
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
  // Without a disposition the form refuses with our own message (not the browser's validation
  // bubble, which would show first and hide it), and focus goes to the disposition.
  const disposition = dialog.getByLabel('Disposition (required)');
  assert.equal(await disposition.evaluate((e) => e.form.noValidate), true);
  await dialog.getByRole('button', { name: 'Submit wrap-up' }).click();
  const message = dialog.getByRole('alert').filter({ hasText: 'Choose a disposition: this queue requires one.' });
  await message.waitFor();
  assert.equal(await disposition.evaluate((e) => document.activeElement === e), true, 'focus is on the disposition');
  assert.equal(await disposition.getAttribute('aria-invalid'), 'true');
  assert.deepEqual(wrapRequests, [], 'no wrap-up was submitted without a disposition');
  assert.equal(await dialog.isVisible(), true);
  await ann.getByText('Load 1/3').waitFor(); // wrap-up still holds a slot
  await docShot(ann, 'wrap-up');
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
    window.switchboard.socket().close();
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
  // Ann is excluded from it for a while: it is offered to Bob again, from the queue.
  const again = offerCard(bob, 'Nora Customer');
  await again.waitFor();
  await again.getByRole('button', { name: 'Accept' }).click();
  await systemLine(bob, 'Ann Agent rejected the transfer from Bob Agent; back in the queue').waitFor();
});

// ---------- transfer to a queue ----------

desktopTest('a transfer to a queue: the dialog lists, filters and refreshes; the queue offers it to Bob', ['ann', 'bob'], async ({ srv, pages: { ann, bob } }) => {
  await login(ann, srv, 'ann');
  await login(bob, srv, 'bob');
  await setStatus(ann, 'Available');
  await setStatus(bob, 'On break');
  await customerWrites(srv, '4915110000031', 'Olaf Customer', 'Which queue sells gift cards?');
  await acceptOffer(ann, 'Olaf Customer', 'Which queue sells gift cards?');
  // Ann stops taking offers, so the queue can only offer it to Bob.
  await setStatus(ann, 'On break');
  await ann.getByRole('toolbar', { name: 'Interaction actions' }).getByRole('button', { name: 'Transfer', exact: true }).click();
  const dialog = ann.getByRole('dialog', { name: 'Transfer to a queue or an agent' });
  await dialog.waitFor();
  const search = dialog.getByRole('searchbox', { name: 'Search' });
  assert.equal(await search.evaluate((e) => document.activeElement === e), true, 'focus starts in the search field');
  const queueButton = (name) => dialog.getByRole('button', { name: new RegExp(`^Transfer to queue ${name}`) });
  await queueButton('Support').waitFor();
  await queueButton('Sales').waitFor();
  await dialog.getByText('No available agent matches.').waitFor();
  // The search field filters queues (and agents) as one types.
  await search.fill('sal');
  await queueButton('Support').waitFor({ state: 'detached' });
  await queueButton('Sales').waitFor();
  await search.fill('nothing like this');
  await dialog.getByText('No matching queue.').waitFor();
  await search.fill('');
  await queueButton('Support').waitFor();
  // Bob becomes available after the dialog opened: Refresh shows him.
  await setStatus(bob, 'Available');
  const refreshed = ann.waitForResponse((r) => r.url().endsWith('/api/v1/directory'));
  await dialog.getByRole('button', { name: 'Refresh' }).click();
  assert.ok((await refreshed).ok());
  await dialog.getByRole('button', { name: /^Transfer to Bob Agent/ }).waitFor();
  await docShot(ann, 'transfer');
  const done = ann.waitForResponse((r) => r.url().endsWith('/transfer') && r.request().method() === 'POST');
  await queueButton('Support').click();
  assert.ok((await done).ok());
  await dialog.waitFor({ state: 'hidden' });
  await interactionItem(ann, 'Olaf Customer').getByText(/Wrap-up/).waitFor();
  await systemLine(ann, 'Ann Agent transferred to queue Support').waitFor();
  // The queue offers it to its available agent, Bob, as a conversation Ann transferred there.
  const card = offerCardTitled(bob, 'Transferred conversation from Ann Agent via queue Support', 'Olaf Customer');
  await card.waitFor();
  await card.locator('dd').filter({ hasText: /^Support$/ }).waitFor();
  await card.getByRole('button', { name: 'Accept' }).click();
  await card.waitFor({ state: 'detached' });
  await transcript(bob).getByText('Which queue sells gift cards?').waitFor();
  await systemLine(bob, 'Ann Agent transferred to queue Support').waitFor();
  await sendText(bob, 'Bob here, I can help with gift cards.');
});

// ---------- sending ----------

/** Records, per outbound message, each delivery state its tick showed, in order. */
async function recordTicks(page) {
  await page.evaluate(() => {
    window.__ticks = {};
    const note = () => {
      for (const li of document.querySelectorAll('#transcript li.msg.out')) {
        const label = li.querySelector('.tick') && li.querySelector('.tick').getAttribute('aria-label');
        const seen = (window.__ticks[li.dataset.id] ||= []);
        if (label && seen[seen.length - 1] !== label) seen.push(label);
      }
    };
    new MutationObserver(note).observe(document.getElementById('transcript'), { childList: true, subtree: true });
    note();
  });
}

desktopTest('an emoji text and an attached image go out and show sent, delivered and read ticks', ['ann'], async ({ srv, pages: { ann } }) => {
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000032', 'Pia Customer', 'Can you send me a photo of the label?');
  await acceptOffer(ann, 'Pia Customer', 'Can you send me a photo of the label?');
  await recordTicks(ann);
  const text = 'Sure! 📦 Here it comes 👍 — Grüße';
  const box = ann.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  // The counter counts UTF-8 bytes (an emoji is 4), not characters.
  await ann.getByText(`${Buffer.byteLength(text, 'utf8')} / 4096 bytes`).waitFor();
  await sendText(ann, text, { withEnter: true });
  // Attach an image: shown first, then uploaded, sent, and shown inline.
  const sent = ann.waitForResponse((r) => /\/messages$/.test(r.url()) && r.request().method() === 'POST');
  await ann.getByLabel('Attach').setInputFiles({ name: 'label.png', mimeType: 'image/png', buffer: makePng() });
  await ann.getByRole('group', { name: 'File to send' }).getByRole('button', { name: 'Send image' }).click();
  const resp = await sent;
  assert.ok(resp.ok(), `image send answered ${resp.status()}`);
  const image = transcript(ann).locator('li.msg.out img');
  await image.waitFor();
  await ann.waitForFunction(() => { const i = document.querySelector('#transcript li.msg.out img'); return i && i.complete && i.naturalWidth === 48; });
  const imageMsg = transcript(ann).locator('li.msg.out').filter({ has: ann.locator('img') });
  await outbound(ann, text).getByLabel('Read', { exact: true }).waitFor();
  await imageMsg.getByLabel('Read', { exact: true }).waitFor();
  // Each message went through sent, delivered and read in that order, never back.
  const ticks = await ann.evaluate(() => window.__ticks);
  const ids = Object.keys(ticks);
  assert.equal(ids.length, 2, JSON.stringify(ticks));
  for (const id of ids) {
    const seen = ticks[id].filter((l) => l !== 'Sending');
    assert.deepEqual(seen, ['Sent', 'Delivered', 'Read'], `message ${id} showed ${ticks[id].join(' → ')}`);
  }
  await customerWrites(srv, '4915110000032', 'Pia Customer', 'Got it, thank you 🙏');
  await transcript(ann).getByText('Got it, thank you 🙏').waitFor();
  assert.equal(await interactionItem(ann, 'Pia Customer').locator('.badge.unread').count(), 0, 'no unread badge on the conversation on screen');
  await docShot(ann, 'chat');
  await assertContrast(ann);
});

// ---------- indicators ----------

desktopTest('the unread count since the last reply clears on selecting; past SLA shows in red', ['ann'], async ({ srv, pages: { ann } }) => {
  // The page's clock follows the server's when the test moves it (Playwright's clock).
  await ann.clock.install();
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000041', 'Quinn Customer', 'Question one');
  await acceptOffer(ann, 'Quinn Customer', 'Question one');
  await customerWrites(srv, '4915110000042', 'Rosa Customer', 'Question two');
  await acceptOffer(ann, 'Rosa Customer', 'Question two');
  // Ann looks at Quinn; Rosa writes twice.
  await interactionItem(ann, 'Quinn Customer').click();
  await ann.getByRole('heading', { name: 'Quinn Customer' }).waitFor();
  await sendText(ann, 'Hello Quinn');
  await customerWrites(srv, '4915110000042', 'Rosa Customer', 'Are you there?');
  await customerWrites(srv, '4915110000042', 'Rosa Customer', 'Hello?');
  const rosa = interactionItem(ann, 'Rosa Customer');
  await rosa.getByText('2 unread').waitFor();
  // Selecting clears it.
  await rosa.click();
  await transcript(ann).getByText('Hello?').waitFor();
  await rosa.locator('.badge.unread').waitFor({ state: 'detached' });
  // Counted since the last reply: Ann answers, looks away, Rosa writes once more.
  await sendText(ann, 'Yes, one moment please.');
  await interactionItem(ann, 'Quinn Customer').click();
  await customerWrites(srv, '4915110000042', 'Rosa Customer', 'Thanks');
  await rosa.getByText('1 unread').waitFor();
  assert.equal(await interactionItem(ann, 'Quinn Customer').locator('.badge.unread').count(), 0);
  assert.equal(await ann.getByText('Past SLA').count(), 0);
  // An hour passes (the queue's response target is 3,600 s): Rosa waits for an answer, Quinn
  // does not (Ann replied last), and the page notices on its own.
  await advanceClock(srv, 3601);
  await ann.clock.fastForward(3_601_000);
  const sla = rosa.getByText('Past SLA');
  await sla.waitFor();
  assert.equal(await interactionItem(ann, 'Quinn Customer').getByText('Past SLA').count(), 0);
  // Red (the list item may be redrawn meanwhile: check the one in the document).
  await ann.waitForFunction(() => {
    const item = [...document.querySelectorAll('#interaction-list .item')].find((b) => b.textContent.includes('Rosa Customer'));
    const badge = item && item.querySelector('.badge.sla');
    const name = item && item.querySelector('.item-name');
    const red = 'rgb(179, 38, 30)';
    return !!badge && !!name && getComputedStyle(badge).backgroundColor === red && getComputedStyle(name).color === red;
  });
  // The server says the same when it next reports on the interaction.
  await customerWrites(srv, '4915110000042', 'Rosa Customer', 'Still waiting');
  await rosa.getByText('2 unread').waitFor();
  await sla.waitFor();
  // A reply ends the wait.
  await rosa.click();
  await sendText(ann, 'Sorry for the wait!');
  await sla.waitFor({ state: 'detached' });
});

// ---------- older history (R-3.6) ----------


desktopTest('"See older messages" pages back through earlier interactions of the conversation', ['ann'], async ({ srv, pages: { ann } }) => {
  await adminApi(srv, 'PATCH', '/api/v1/settings', { transcript_interactions_count: 1 });
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  const waId = '4915110000051';
  for (const [visit, reply] of [['First visit: my order', 'Answer one'], ['Second visit: the invoice', 'Answer two']]) {
    await customerWrites(srv, waId, 'Sven Customer', visit);
    await acceptOffer(ann, 'Sven Customer', visit);
    await sendText(ann, reply);
    await endAndWrapUp(ann, 'Sven Customer');
    await ann.getByText('No interactions yet').waitFor();
  }
  await customerWrites(srv, waId, 'Sven Customer', 'Third visit: a return');
  await acceptOffer(ann, 'Sven Customer', 'Third visit: a return');
  // This interaction and the one before it (transcript_interactions_count = 1), not the first.
  const t = transcript(ann);
  await t.getByText('Second visit: the invoice').waitFor();
  await t.getByText('Answer two').waitFor();
  assert.equal(await t.getByText('First visit: my order').count(), 0);
  await t.locator('li.day.session').filter({ hasText: /^Earlier interaction · / }).first().waitFor();
  await t.locator('li.day.session').filter({ hasText: /^This interaction · / }).waitFor();
  const older = ann.getByRole('button', { name: 'See older messages' });
  const page = ann.waitForResponse((r) => r.url().includes('scope=transcript') && r.url().includes('before='));
  await older.click();
  assert.ok((await page).ok());
  await t.getByText('First visit: my order').waitFor();
  await t.getByText('Answer one').waitFor();
  // Nothing older is left; the order is the conversation's.
  await older.waitFor({ state: 'hidden' });
  const texts = await t.locator('li.msg .text').allTextContents();
  const order = ['First visit: my order', 'Answer one', 'Second visit: the invoice', 'Answer two', 'Third visit: a return'];
  assert.deepEqual(texts.filter((x) => order.includes(x)), order);
  assert.equal(await t.locator('li.day.session').count(), 3, 'one separator per interaction');
  // New messages still arrive below.
  await customerWrites(srv, waId, 'Sven Customer', 'Label attached');
  await t.locator('li.msg').last().getByText('Label attached').waitFor();
});

// ---------- compose rules ----------

desktopTest('the byte limit: the counter, the refusal notice, and nothing typed lost', ['ann'], async ({ srv, pages: { ann } }) => {
  await adminApi(srv, 'PATCH', '/api/v1/settings', { max_text_message_size: 20 });
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000061', 'Tara Customer', 'Short answers please');
  await acceptOffer(ann, 'Tara Customer', 'Short answers please');
  const box = ann.getByRole('textbox', { name: 'Message' });
  const posts = [];
  ann.on('request', (r) => { if (/\/messages$/.test(r.url()) && r.method() === 'POST') posts.push(r.url()); });
  const tooLong = 'Hello 😀😀😀😀'; // 6 + 4 × 4 = 22 bytes
  await box.fill(tooLong);
  const counter = ann.getByText('22 / 20 bytes');
  await counter.waitFor();
  assert.match(await counter.getAttribute('class'), /\bover\b/);
  await box.press('Enter');
  await ann.getByRole('alert').filter({ hasText: 'Not sent: the message is 22 bytes, the limit is 20 bytes.' }).waitFor();
  assert.equal(await box.inputValue(), tooLong, 'the text is kept');
  assert.deepEqual(posts, [], 'nothing was sent');
  // The limit is lowered while the page is open: the server refuses, the page says so and keeps
  // the text, and counts against the new limit from then on.
  // (The page may also have fetched the new limit on its own meanwhile: then it refuses without
  // asking the server. Either way the agent sees the same notice and keeps the text.)
  await adminApi(srv, 'PATCH', '/api/v1/settings', { max_text_message_size: 10 });
  await box.fill('Hello there!'); // 12 bytes
  await ann.getByText(/^12 \/ (20|10) bytes$/).waitFor();
  const before = posts.length;
  const answered = ann.waitForResponse((r) => /\/messages$/.test(r.url()) && r.request().method() === 'POST', { timeout: 5000 }).catch(() => null);
  await ann.getByRole('button', { name: 'Send' }).click();
  if (posts.length > before || (await ann.getByText('12 / 20 bytes').count()) > 0) {
    const refused = await answered;
    assert.ok(refused, 'the server was asked');
    assert.equal(refused.status(), 422);
  }
  await ann.getByRole('alert').filter({ hasText: 'Not sent: the message is 12 bytes, the limit is 10 bytes.' }).waitFor();
  await ann.getByText('12 / 10 bytes').waitFor();
  assert.equal(await box.inputValue(), 'Hello there!', 'the text is kept');
  // Shortened, it goes.
  await sendText(ann, 'Hi 😀'); // 7 bytes
  assert.equal(await box.inputValue(), '');
  assert.equal(await ann.locator('#compose-error').textContent(), '');
});

desktopTest('the 24-hour window: the compose box says a template is needed', ['ann'], async ({ srv, pages: { ann } }) => {
  await ann.clock.install();
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000071', 'Uwe Customer', 'Please call me tomorrow');
  await acceptOffer(ann, 'Uwe Customer', 'Please call me tomorrow');
  const box = ann.getByRole('textbox', { name: 'Message' });
  const notice = ann.getByText("More than 24 hours have passed since the customer's last message: a template is needed to write to them.");
  assert.equal(await notice.isVisible(), false);
  // A day passes on the server only: the page still thinks the window is open, the server's
  // answer (template_required) decides, and the text stays.
  await advanceClock(srv, 24 * 3600 + 60);
  await box.fill('Good morning, as promised.');
  const refused = ann.waitForResponse((r) => /\/messages$/.test(r.url()) && r.request().method() === 'POST');
  await box.press('Enter');
  const resp = await refused;
  assert.equal(resp.status(), 422);
  assert.equal((await resp.json()).error.code, 'template_required');
  await notice.waitFor();
  await ann.getByRole('alert').filter({ hasText: 'only a template can be sent. Your text is kept.' }).waitFor();
  assert.equal(await box.inputValue(), 'Good morning, as promised.');
  assert.equal(await box.isDisabled(), true);
  assert.equal(await ann.getByRole('button', { name: 'Send' }).isDisabled(), true);
  // The customer writes again: a new window, the kept text can go.
  await customerWrites(srv, '4915110000071', 'Uwe Customer', 'Hello?');
  await notice.waitFor({ state: 'hidden' });
  assert.equal(await box.isDisabled(), false);
  assert.equal(await box.inputValue(), 'Good morning, as promised.');
  await sendText(ann, 'Good morning, as promised.');
  // When the page's clock passes the window too (it is a day behind the server's, so two days
  // here) the page closes the window on its own, before any send.
  await advanceClock(srv, 24 * 3600 + 60);
  await ann.clock.fastForward(2 * (24 * 3600 + 60) * 1000);
  await notice.waitFor();
  assert.equal(await box.isDisabled(), true);
  assert.match(await box.getAttribute('placeholder'), /template is needed/);
});

// ---------- background offers ----------

/** Hooks the Notification API, WebAudio tones and page visibility, before the page's own script. */
async function hookAlerts(ctx) {
  await ctx.addInitScript(() => {
    window.__notes = [];
    window.__tones = 0;
    window.__permissionRequests = 0;
    const Real = window.Notification;
    if (Real) {
      class Hooked extends Real {
        constructor(title, options) {
          window.__notes.push({ title, body: options && options.body, tag: options && options.tag, closed: false });
          const i = window.__notes.length - 1;
          super(title, options);
          const close = this.close.bind(this);
          this.close = () => { window.__notes[i].closed = true; close(); };
        }
        static get permission() { return Real.permission; }
        static requestPermission(...a) { window.__permissionRequests += 1; return Real.requestPermission(...a); }
      }
      window.Notification = Hooked;
    }
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function hookedStart(...a) { window.__tones += 1; return start.apply(this, a); };
    let hidden = false;
    Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
    Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
    window.__setHidden = (h) => { hidden = h; document.dispatchEvent(new Event('visibilitychange')); };
  });
}

desktopTest('an offer while the tab is in the background raises a desktop notification and a sound', ['ann'], async ({ srv, pages: { ann }, contexts: [ctx] }) => {
  await ctx.grantPermissions(['notifications'], { origin: srv.base });
  await hookAlerts(ctx);
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  assert.equal(await ann.evaluate(() => Notification.permission), 'granted');
  await ann.evaluate(() => window.__setHidden(true));
  await customerWrites(srv, '4915110000081', 'Vera Customer', 'Is anyone there?');
  await ann.waitForFunction(() => window.__notes.length === 1);
  const [note] = await ann.evaluate(() => window.__notes);
  assert.equal(note.title, 'New conversation: Vera Customer');
  assert.match(note.body, /Is anyone there\?/);
  assert.match(note.body, /Support/);
  assert.ok(await ann.evaluate(() => window.__tones) >= 1, 'a tone played');
  // The agent comes back and accepts: the notification goes away.
  await ann.evaluate(() => window.__setHidden(false));
  await acceptOffer(ann, 'Vera Customer', 'Is anyone there?');
  await ann.waitForFunction(() => window.__notes[0].closed);
  // In the foreground an offer shows on the page only: no notification, no sound.
  const tones = await ann.evaluate(() => window.__tones);
  await customerWrites(srv, '4915110000082', 'Walt Customer', 'Hello from Walt');
  await offerCard(ann, 'Walt Customer').waitFor();
  assert.equal(await ann.evaluate(() => window.__notes.length), 1);
  assert.equal(await ann.evaluate(() => window.__tones), tones);
});

desktopTest('the notification permission is asked when the agent chooses Available', ['ann'], async ({ srv, pages: { ann }, contexts: [ctx] }) => {
  await hookAlerts(ctx);
  await login(ann, srv, 'ann');
  assert.equal(await ann.evaluate(() => window.__permissionRequests), 0, 'not asked at login');
  await setStatus(ann, 'On break');
  assert.equal(await ann.evaluate(() => window.__permissionRequests), 0);
  await setStatus(ann, 'Available');
  assert.equal(await ann.evaluate(() => window.__permissionRequests), 1);
});

// ---------- keyboard and contrast ----------

/** Presses Tab (or Shift+Tab) until `locator` has focus; fails after `max` presses. */
async function tabTo(page, locator, { back = false, max = 40 } = {}) {
  for (let i = 0; i < max; i += 1) {
    if (await locator.evaluate((e) => document.activeElement === e).catch(() => false)) return;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  assert.fail(`Tab never reached ${locator}`);
}

/** The focused element, and whether it shows a focus indicator. */
const focused = (page) => page.evaluate(() => {
  const e = document.activeElement;
  const cs = getComputedStyle(e);
  return {
    name: e.getAttribute('aria-label') || e.labels?.[0]?.textContent || e.textContent.trim().slice(0, 40),
    tag: e.tagName,
    visible: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2,
  };
});

/**
 * Every visible text on the page has a contrast ratio of at least 4.5:1 against what is behind it
 * (3:1 for large text; disabled controls are exempt), computed from the rendered colours.
 */
async function assertContrast(page) {
  const failures = await page.evaluate(() => {
    const parse = (c) => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r, g, b, a };
    };
    const lum = ({ r, g, b }) => {
      const f = (v) => { const c = v / 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const blend = (top, under) => ({
      r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a), b: top.b * top.a + under.b * (1 - top.a), a: 1,
    });
    const background = (e) => {
      const layers = [];
      for (let x = e; x; x = x.parentElement) {
        const c = parse(getComputedStyle(x).backgroundColor);
        if (c && c.a > 0) { layers.push(c); if (c.a === 1) break; }
      }
      let bg = { r: 255, g: 255, b: 255, a: 1 };
      for (const c of layers.reverse()) bg = blend(c, bg);
      return bg;
    };
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const e = n.parentElement;
      if (!n.textContent.trim() || seen.has(e)) continue;
      seen.add(e);
      if (!e.checkVisibility || !e.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
      const r = e.getBoundingClientRect();
      if (r.width < 2 || r.height < 2 || e.closest('.sr-only, option')) continue;
      if (e.closest('button:disabled, select:disabled, textarea:disabled, .compose.disabled')) continue;
      const cs = getComputedStyle(e);
      let fg = parse(cs.color);
      const bg = background(e);
      fg = blend(fg, bg);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      const ratio = (hi + 0.05) / (lo + 0.05);
      const size = parseFloat(cs.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) out.push(`${ratio.toFixed(2)} "${n.textContent.trim().slice(0, 30)}" (${cs.color} on rgb(${Math.round(bg.r)}, ${Math.round(bg.g)}, ${Math.round(bg.b)}))`);
    }
    return out;
  });
  assert.deepEqual(failures, [], `low contrast:\n${failures.join('\n')}`);
}

desktopTest('the whole desktop works with the keyboard alone', ['ann'], async ({ srv, pages: { ann } }) => {
  const kb = ann.keyboard;
  await ann.goto(srv.base);
  // Log in: the username field has focus at once.
  await ann.getByLabel('Username').waitFor();
  assert.equal((await focused(ann)).tag, 'INPUT');
  await kb.type('ann');
  await kb.press('Tab');
  await kb.type(srv.agent_password);
  await kb.press('Enter');
  await ann.getByRole('status').filter({ hasText: 'Live' }).waitFor();
  await assertContrast(ann);
  // The status menu: Tab to it, type "A" for Available.
  const status = ann.getByLabel('Status', { exact: true });
  await tabTo(ann, status);
  assert.equal((await focused(ann)).visible, true, 'focus is visible on the status menu');
  const presence = ann.waitForResponse((r) => r.url().endsWith('/api/v1/me/presence'));
  await kb.press('a');
  assert.ok((await presence).ok());
  assert.equal(await status.inputValue(), 'available');
  // An offer arrives: focus moves to its Accept.
  await customerWrites(srv, '4915110000091', 'Xena Customer', 'Keyboard question');
  const card = offerCard(ann, 'Xena Customer');
  const accept = card.getByRole('button', { name: 'Accept' });
  await ann.waitForFunction(() => document.activeElement && document.activeElement.matches('.offer .accept'));
  assert.deepEqual(await focused(ann), { name: 'Accept', tag: 'BUTTON', visible: true });
  await assertContrast(ann);
  await kb.press('Enter');
  await card.waitFor({ state: 'detached' });
  await transcript(ann).getByText('Keyboard question').waitFor();
  // After Accept focus is in the compose box: type and send with Enter.
  const box = ann.getByRole('textbox', { name: 'Message' });
  await ann.waitForFunction(() => document.activeElement && document.activeElement.id === 'compose-text');
  await kb.type('Typed with the keyboard only');
  await kb.press('Enter');
  await outbound(ann, 'Typed with the keyboard only').waitFor();
  assert.equal(await box.inputValue(), '');
  // The Transfer dialog opens and Escape closes it, giving focus back to Transfer.
  const transfer = ann.getByRole('button', { name: 'Transfer', exact: true });
  await tabTo(ann, transfer, { back: true });
  await kb.press('Enter');
  const dialog = ann.getByRole('dialog', { name: 'Transfer to a queue or an agent' });
  await dialog.waitFor();
  assert.equal((await focused(ann)).tag, 'INPUT', 'focus starts in the search field');
  await kb.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.equal((await focused(ann)).name, 'Transfer');
  // End, then the wrap-up: Submit without a disposition shows our message and focuses the
  // disposition; "S" picks Solved; Tab to Submit wrap-up.
  await tabTo(ann, ann.getByRole('button', { name: 'End', exact: true }));
  await kb.press('Enter');
  const wrap = ann.getByRole('dialog', { name: 'Wrap-up: Xena Customer' });
  await wrap.waitFor();
  const disposition = wrap.getByLabel('Disposition (required)');
  assert.equal(await disposition.evaluate((e) => document.activeElement === e), true, 'focus starts on the disposition');
  const submit = wrap.getByRole('button', { name: 'Submit wrap-up' });
  await tabTo(ann, submit);
  assert.equal((await focused(ann)).visible, true);
  await kb.press('Enter');
  await wrap.getByText('Choose a disposition: this queue requires one.').waitFor();
  assert.equal(await disposition.evaluate((e) => document.activeElement === e), true);
  await kb.press('s');
  assert.equal(await disposition.inputValue(), 'solved');
  await tabTo(ann, submit);
  const done = ann.waitForResponse((r) => r.url().endsWith('/wrap-up') && r.request().method() === 'POST');
  await kb.press('Enter');
  assert.ok((await done).ok());
  await wrap.waitFor({ state: 'hidden' });
  await ann.getByText('No interactions yet').waitFor();
  // A withdrawn offer gives focus back to where it was (here: the status menu).
  await tabTo(ann, status);
  await customerWrites(srv, '4915110000092', 'Yuri Customer', 'Another one');
  await ann.waitForFunction(() => document.activeElement && document.activeElement.matches('.offer .accept'));
  await advanceClock(srv, 31);
  await offerCard(ann, 'Yuri Customer').waitFor({ state: 'detached' });
  await ann.waitForFunction(() => document.activeElement && document.activeElement.id === 'status-select');
  // RONA: the banner's button is reachable and brings the agent back.
  const back = ann.getByRole('button', { name: 'Back to Available' });
  await tabTo(ann, back);
  const again = ann.waitForResponse((r) => r.url().endsWith('/api/v1/me/presence'));
  await kb.press('Enter');
  assert.ok((await again).ok());
  await back.waitFor({ state: 'hidden' });
});

// ---------- performance ----------

desktopTest('first paint under a second; a 1,000-message transcript renders incrementally and scrolls smoothly', ['ann'], async ({ srv, pages: { ann } }) => {
  await ann.goto(srv.base);
  await ann.getByLabel('Username').waitFor();
  // The paint entry is recorded once the frame is presented, which may be just after the field
  // shows: wait for it (a buffered observer also sees one already recorded).
  const paint = await ann.evaluate(() => new Promise((resolve) => {
    const nav = performance.getEntriesByType('navigation')[0];
    const done = (fcp) => resolve({ fcp: fcp ? fcp.startTime : null, domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd });
    new PerformanceObserver((list, obs) => {
      const fcp = list.getEntriesByName('first-contentful-paint')[0];
      if (fcp) { obs.disconnect(); done(fcp); }
    }).observe({ type: 'paint', buffered: true });
  }));
  console.log(`# first contentful paint ${paint.fcp?.toFixed(0)} ms, DOMContentLoaded ${paint.domContentLoaded.toFixed(0)} ms`);
  assert.ok(paint.fcp !== null && paint.fcp < 1000, `first contentful paint ${paint.fcp} ms`);
  await assertContrast(ann);
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  const waId = '4915110000099';
  await customerWrites(srv, waId, 'Zoe Customer', 'Message 0');
  await acceptOffer(ann, 'Zoe Customer', 'Message 0');
  // 999 messages arrive live: each one adds its node and removes none.
  await ann.evaluate(() => {
    window.__removed = 0;
    new MutationObserver((records) => {
      for (const r of records) for (const n of r.removedNodes) if (n.nodeType === 1 && n.matches('li.msg')) window.__removed += 1;
    }).observe(document.getElementById('transcript'), { childList: true });
  });
  await customerWritesMany(srv, waId, 'Zoe Customer', 999, 'Message');
  await transcript(ann).getByText('Message 999', { exact: true }).waitFor({ timeout: 60_000 });
  assert.equal(await transcript(ann).locator('li.msg.in').count(), 1000);
  assert.equal(await ann.evaluate(() => window.__removed), 0, 'no message node was re-rendered');
  // A fresh load pages back through all of them.
  await ann.reload();
  await ann.getByRole('status').filter({ hasText: 'Live' }).waitFor();
  await interactionItem(ann, 'Zoe Customer').click();
  await transcript(ann).getByText('Message 999', { exact: true }).waitFor();
  const older = ann.getByRole('button', { name: 'See older messages' });
  const pageTimes = [];
  while (await older.isVisible()) {
    const n = await transcript(ann).locator('li.msg').count();
    const t0 = Date.now();
    await older.click();
    await ann.waitForFunction((before) => document.querySelectorAll('#transcript li.msg').length > before || document.getElementById('older').hidden, n);
    pageTimes.push(Date.now() - t0);
  }
  assert.equal(await transcript(ann).locator('li.msg.in').count(), 1000);
  await transcript(ann).getByText('Message 0', { exact: true }).waitFor();
  console.log(`# older pages loaded and drawn in ${pageTimes.join(', ')} ms`);
  assert.ok(Math.max(...pageTimes) < 2000, `an older page took ${Math.max(...pageTimes)} ms`);
  // Scroll through the whole transcript, one step per frame, and time the frames.
  const frames = await ann.evaluate(() => new Promise((resolve) => {
    const ol = document.getElementById('transcript');
    ol.scrollTop = 0;
    const times = [];
    let last = performance.now();
    const step = () => {
      const now = performance.now();
      times.push(now - last);
      last = now;
      if (ol.scrollTop + ol.clientHeight >= ol.scrollHeight - 1) { resolve(times.slice(1)); return; }
      ol.scrollTop += 120;
      requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  }));
  frames.sort((a, b) => a - b);
  const p = (q) => frames[Math.min(frames.length - 1, Math.floor(q * frames.length))];
  console.log(`# scrolling 1,000 messages: ${frames.length} frames, median ${p(0.5).toFixed(1)} ms, p95 ${p(0.95).toFixed(1)} ms, max ${frames.at(-1).toFixed(1)} ms`);
  assert.ok(p(0.5) < 34, `median frame ${p(0.5)} ms`);
  assert.ok(p(0.95) < 100, `p95 frame ${p(0.95)} ms`);
  // A new message with 1,000 shown costs one node.
  await ann.evaluate(() => { window.__removed = 0; });
  await customerWrites(srv, waId, 'Zoe Customer', 'One more');
  await transcript(ann).getByText('One more').waitFor();
  assert.equal(await ann.evaluate(() => window.__removed), 0);
}, { timeout: 180_000 });

// ---------- hardening: what the desktop says ----------

desktopTest('an image is shown before it is sent, with the typed text as its caption; Cancel keeps the text', ['ann'], async ({ srv, pages: { ann } }) => {
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000061', 'Ute Customer', 'Where is my parcel?');
  await acceptOffer(ann, 'Ute Customer', 'Where is my parcel?');
  const posts = [];
  ann.on('request', (r) => { if (/\/messages$/.test(r.url()) && r.method() === 'POST') posts.push(r.url()); });
  const box = ann.getByRole('textbox', { name: 'Message' });
  await box.fill('The label of your parcel');
  await ann.getByLabel('Attach').setInputFiles({ name: 'label.png', mimeType: 'image/png', buffer: makePng(64) });
  // Nothing is sent yet: the image shows with the caption it will carry.
  const preview = ann.getByRole('group', { name: 'File to send' });
  await preview.getByRole('img', { name: 'Preview of label.png' }).waitFor();
  const caption = preview.getByRole('textbox', { name: 'Caption' });
  assert.equal(await caption.inputValue(), 'The label of your parcel');
  assert.deepEqual(posts, [], 'choosing a file sends nothing');
  // Cancel: nothing sent, the text is still in the box.
  await preview.getByRole('button', { name: 'Cancel' }).click();
  await preview.waitFor({ state: 'hidden' });
  assert.equal(await box.inputValue(), 'The label of your parcel');
  assert.deepEqual(posts, []);
  assert.equal(await transcript(ann).locator('li.msg.out').count(), 0);
  // Again, with the caption changed: Send sends the image with it, and the box is left alone.
  await ann.getByLabel('Attach').setInputFiles({ name: 'label.png', mimeType: 'image/png', buffer: makePng(64) });
  await caption.fill('Your label, printed');
  await ann.screenshot({ path: join(SHOTS, 'attach-preview.png') });
  const sent = ann.waitForResponse((r) => /\/messages$/.test(r.url()) && r.request().method() === 'POST');
  await preview.getByRole('button', { name: 'Send image' }).click();
  const resp = await sent;
  assert.equal(resp.status(), 201);
  await preview.waitFor({ state: 'hidden' });
  const msg = outbound(ann, 'Your label, printed');
  await msg.locator('img').waitFor();
  assert.equal(await box.inputValue(), 'The label of your parcel', 'a caption typed apart leaves the box as it was');
  // With the caption as taken from the box, the box is emptied once it went out.
  await ann.getByLabel('Attach').setInputFiles({ name: 'label2.png', mimeType: 'image/png', buffer: makePng(32) });
  await preview.getByRole('button', { name: 'Send image' }).click();
  await outbound(ann, 'The label of your parcel').locator('img').waitFor();
  assert.equal(await box.inputValue(), '');
  assert.equal(posts.length, 2);
});

desktopTest('a conference partner\'s messages in an earlier interaction are labelled with their name', ['ann', 'bob'], async ({ srv, pages: { ann, bob } }) => {
  await annOwnsCustomer(srv, ann, bob, '4915110000062', 'Vera Customer', 'Two things today');
  await pickTarget(ann, 'Conference', 'Invite to a conference', 'Invite Bob Agent');
  const card = offerCardTitled(bob, 'Conference invitation from Ann Agent', 'Vera Customer');
  await card.getByRole('button', { name: 'Accept' }).click();
  await card.waitFor({ state: 'detached' });
  await sendText(bob, 'Bob here for the second thing.');
  await sendText(ann, 'Ann here for the first.');
  await outbound(ann, 'Bob here for the second thing.').locator('.author').filter({ hasText: 'Bob Agent' }).waitFor();
  await ann.getByRole('button', { name: 'End conference' }).click();
  await systemLine(ann, 'Bob Agent left the conversation').waitFor();
  await setStatus(bob, 'Offline');
  await endAndWrapUp(ann, 'Vera Customer');
  // The customer comes back: the new interaction shows the earlier one above it.
  await customerWrites(srv, '4915110000062', 'Vera Customer', 'One more thing');
  await acceptOffer(ann, 'Vera Customer', 'One more thing');
  await transcript(ann).locator('li.day.session').filter({ hasText: 'Earlier interaction' }).waitFor();
  const bobs = outbound(ann, 'Bob here for the second thing.');
  await bobs.waitFor();
  assert.equal(await bobs.locator('.author').textContent(), 'Bob Agent');
  // Ann's own messages carry no name.
  assert.equal(await outbound(ann, 'Ann here for the first.').locator('.author').count(), 0);
});

desktopTest('a transfer to a queue is offered as a transferred conversation with the customer\'s real waiting time', ['ann', 'bob'], async ({ srv, pages: { ann, bob } }) => {
  await ann.clock.install();
  await bob.clock.install();
  await annOwnsCustomer(srv, ann, bob, '4915110000063', 'Wim Customer', 'Is anyone there?');
  await setStatus(bob, 'On break');
  // Ann looks into it for two minutes without answering, then hands it to the queue.
  await advanceClock(srv, 120);
  await ann.clock.fastForward(120_000);
  await bob.clock.fastForward(120_000);
  await setStatus(bob, 'Available');
  await pickTarget(ann, 'Transfer', 'Transfer to a queue or an agent', 'Transfer to queue Support');
  const card = offerCardTitled(bob, 'Transferred conversation from Ann Agent via queue Support', 'Wim Customer');
  await card.waitFor();
  // The customer has waited since their message, two minutes ago, not since the transfer.
  const waiting = card.locator('dd .elapsed');
  await bob.waitForFunction(() => /^2:0\d$/.test(document.querySelector('.offer dd .elapsed').textContent));
  assert.match(await waiting.textContent(), /^2:0\d$/);
  await bob.screenshot({ path: join(SHOTS, 'offer-transfer.png') });
  await card.getByRole('button', { name: 'Accept' }).click();
  await transcript(bob).getByText('Is anyone there?').waitFor();
});

desktopTest('a reject says so: the banner and the status name the reject, under either after_missed_offer', ['ann'], async ({ srv, pages: { ann } }) => {
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000064', 'Xavi Customer', 'Hello');
  const card = offerCard(ann, 'Xavi Customer');
  await card.getByRole('button', { name: 'Reject' }).click();
  await card.waitFor({ state: 'detached' });
  const banner = ann.getByRole('alert').filter({ hasText: 'RONA —' });
  await banner.filter({ hasText: 'RONA — you rejected an offer.' }).waitFor();
  assert.equal(await ann.getByText('you missed an offer').count(), 0);
  const status = ann.getByLabel('Status', { exact: true });
  assert.equal(await status.inputValue(), 'rona');
  assert.equal(await status.locator('option:checked').textContent(), 'Rejected offer (RONA)');
  assert.equal((await pageApi(ann, 'GET', '/api/v1/me')).data.break_reason, 'Rejected offer');
  await ann.screenshot({ path: join(SHOTS, 'rona-rejected.png') });
  // With after_missed_offer = on_break the agent goes on break, and the break says why.
  await adminApi(srv, 'PATCH', '/api/v1/settings', { after_missed_offer: 'on_break' });
  await banner.getByRole('button', { name: 'Back to Available' }).click();
  await banner.waitFor({ state: 'hidden' });
  await customerWrites(srv, '4915110000065', 'Yuki Customer', 'Hi');
  const second = offerCard(ann, 'Yuki Customer');
  await second.getByRole('button', { name: 'Reject' }).click();
  await second.waitFor({ state: 'detached' });
  await ann.waitForFunction(() => document.getElementById('status-select').value === 'on_break');
  const reason = ann.getByLabel('Break reason');
  await reason.waitFor();
  assert.equal(await reason.locator('option:checked').textContent(), 'Rejected offer');
});

desktopTest('while the agent only wraps up, the status area shows Post processing with the countdown', ['ann'], async ({ srv, pages: { ann } }) => {
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000066', 'Zora Customer', 'Thanks, bye');
  await acceptOffer(ann, 'Zora Customer', 'Thanks, bye');
  const activity = ann.getByRole('status', { name: 'Activity' });
  assert.equal((await pageApi(ann, 'GET', '/api/v1/me')).data.activity, 'handling');
  assert.equal(await activity.count(), 0, 'nothing shown while handling');
  await ann.getByRole('button', { name: 'End', exact: true }).click();
  await ann.getByRole('dialog', { name: 'Wrap-up: Zora Customer' }).waitFor();
  // The queue's post-processing time is 10 s: the countdown runs from it.
  await activity.filter({ hasText: /^Post processing 0:(10|0\d)$/ }).waitFor();
  assert.equal((await pageApi(ann, 'GET', '/api/v1/me')).data.activity, 'post_processing');
  await ann.screenshot({ path: join(SHOTS, 'post-processing.png') });
  // A new customer is accepted meanwhile: handling again, no longer post processing.
  await customerWrites(srv, '4915110000067', 'Anja Customer', 'A new question');
  await acceptOffer(ann, 'Anja Customer', 'A new question');
  await activity.waitFor({ state: 'hidden' });
  assert.equal((await pageApi(ann, 'GET', '/api/v1/me')).data.activity, 'handling');
  // That one ended too, the first wrap-up completes on its own: post processing, then idle.
  await ann.getByRole('button', { name: 'End', exact: true }).click();
  await activity.filter({ hasText: /^Post processing/ }).waitFor();
  await advanceClock(srv, 11);
  await activity.waitFor({ state: 'hidden' });
  assert.equal((await pageApi(ann, 'GET', '/api/v1/me')).data.activity, 'idle');
});

desktopTest('a customer\'s reaction shows on the message it reacts to, not as a bubble of its own', ['ann'], async ({ srv, pages: { ann } }) => {
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000068', 'Bea Customer', 'Has my parcel left?');
  await acceptOffer(ann, 'Bea Customer', 'Has my parcel left?');
  await sendText(ann, 'Yes, it left today.');
  const mine = outbound(ann, 'Yes, it left today.');
  await mine.getByLabel('Delivered', { exact: true }).or(mine.getByLabel('Read', { exact: true })).waitFor();
  const id = await interactionItem(ann, 'Bea Customer').getAttribute('data-id');
  const page = await pageApi(ann, 'GET', `/api/v1/interactions/${id}/messages?limit=50`);
  const wamid = page.data.messages.find((m) => m.text === 'Yes, it left today.').wa_message_id;
  await control(srv, '/customers/4915110000068/reaction', { name: 'Bea Customer', message_id: wamid, emoji: '👍' });
  await mine.getByRole('img', { name: 'Customer reacted 👍' }).waitFor();
  assert.equal(await transcript(ann).getByText(/Reacted/).count(), 0, 'no bubble of its own');
  // A 👍 after the answer is not a question: it neither waits for a reply (no SLA clock) nor is unread.
  const after = await pageApi(ann, 'GET', `/api/v1/interactions/${id}`);
  assert.equal(after.data.awaiting_reply_since, null, 'a reaction does not wait for a reply');
  assert.equal(after.data.past_sla, false);
  assert.equal(await transcript(ann).locator('li.msg:visible').count(), 2);
  // Changed to another emoji: the message shows the new one only.
  await control(srv, '/customers/4915110000068/reaction', { name: 'Bea Customer', message_id: wamid, emoji: '❤️' });
  await mine.getByRole('img', { name: 'Customer reacted ❤️' }).waitFor();
  assert.equal(await mine.getByRole('img', { name: 'Customer reacted 👍' }).count(), 0);
  // Also after drawing the transcript again (reload).
  await ann.reload();
  await ann.getByRole('status').filter({ hasText: 'Live' }).waitFor();
  await interactionItem(ann, 'Bea Customer').click();
  await outbound(ann, 'Yes, it left today.').getByRole('img', { name: 'Customer reacted ❤️' }).waitFor();
  assert.equal(await transcript(ann).getByText(/Reacted/).count(), 0);
  await ann.screenshot({ path: join(SHOTS, 'reaction.png') });
});

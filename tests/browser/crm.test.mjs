// Real-browser tests of the built-in CRM in the agent desktop (crates/server/ui/crm/): the screen pop with none,
// one and several matches (R-4.1 … ), the history with search, sending
// a template with an image header outside the 24-hour window and a button tap on a template
// and starting an outbound conversation. Same fixture as desktop.test.mjs; no
// fixed sleeps: every wait is a locator or a network response.

import assert from 'node:assert/strict';
import {
  useBrowser, desktopTest, login, setStatus, customerWrites, advanceClock, adminApi, control, docShot,
  makePng, offerCard, transcript, outbound, acceptOffer, sendText, endAndWrapUp, interactionItem, pageApi,
} from './helpers.mjs';

useBrowser();

const panel = (page) => page.getByRole('complementary', { name: 'Details' });
const contactPanel = (page) => panel(page).getByRole('region', { name: 'Contact' });
const convPanel = (page) => panel(page).getByRole('region', { name: 'Conversations' });
const isResp = (method, re) => (r) => r.request().method() === method && re.test(new URL(r.url()).pathname);

/** Waits for the response of `method` on a path matching `re` while `action` runs; asserts 2xx. */
async function expectOk(page, method, re, action) {
  const wait = page.waitForResponse(isResp(method, re));
  await action();
  const resp = await wait;
  assert.ok(resp.ok(), `${method} ${resp.url()} answered ${resp.status()}`);
  return resp.json();
}

desktopTest('screen pop, no match with the prompt policy: the New contact form creates and links the contact', ['ann'], async ({ srv, pages: { ann } }) => {
  await adminApi(srv, 'PATCH', '/api/v1/settings', { new_contact_policy: 'prompt' });
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000101', 'Nina Newcomer', 'Hello, first time here');
  // The offer says how many contacts the number matched.
  const card = offerCard(ann, 'Nina Newcomer');
  await card.locator('.crm-offer-contact').filter({ hasText: 'No contact found' }).waitFor();
  await acceptOffer(ann, 'Nina Newcomer', 'Hello, first time here');
  const pop = contactPanel(ann);
  await pop.getByText('No contact found').waitFor();
  await interactionItem(ann, 'Nina Newcomer').locator('.avatar .crm-count').filter({ hasText: '0' }).waitFor();
  // The form, prefilled from the WhatsApp profile.
  const form = pop.getByRole('form', { name: 'New contact' });
  assert.equal(await form.getByLabel('Name').inputValue(), 'Nina Newcomer');
  assert.equal(await form.getByLabel('WhatsApp number').inputValue(), '+4915110000101');
  await form.getByLabel('Name').fill('Nina Neumann');
  await form.getByLabel('Email').fill('nina@example.com');
  const linked = ann.waitForResponse(isResp('PUT', /\/api\/v1\/interactions\/[^/]+\/contact$/));
  const created = await expectOk(ann, 'POST', /^\/api\/v1\/contacts$/, () => form.getByRole('button', { name: 'Create contact' }).click());
  assert.ok((await linked).ok());
  // The record pops: the new contact is linked and found by the number.
  await pop.locator('.crm-name').filter({ hasText: 'Nina Neumann' }).waitFor();
  await pop.getByText('nina@example.com').waitFor();
  await pop.getByText('1 contact found').waitFor();
  await interactionItem(ann, 'Nina Newcomer').locator('.avatar .crm-count').filter({ hasText: '1' }).waitFor();
  const id = await interactionItem(ann, 'Nina Newcomer').getAttribute('data-id');
  const it = await pageApi(ann, 'GET', `/api/v1/interactions/${id}`);
  assert.equal(it.data.contact.id, created.id);
  assert.equal(await pop.getByRole('form', { name: 'New contact' }).count(), 0);
});

desktopTest('screen pop, one match: the record with numbers, email and fields; a failed number flagged; edit, add a number, save as case', ['ann'], async ({ srv, pages: { ann } }) => {
  const olga = await adminApi(srv, 'POST', '/api/v1/contacts', {
    name: 'Olga Onematch', email: 'olga@example.com', phones: ['+49 151 10000102', '+49 151 10000199'],
    fields: { customer_no: 'C-1002', tier: 'gold' },
  });
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000102', 'Olga WhatsApp', 'Where is my order?');
  const card = offerCard(ann, 'Olga WhatsApp');
  await card.locator('.crm-offer-contact').filter({ hasText: '1 contact found — Olga Onematch' }).waitFor();
  await acceptOffer(ann, 'Olga WhatsApp', 'Where is my order?');
  const pop = contactPanel(ann);
  await pop.locator('.crm-name').filter({ hasText: 'Olga Onematch' }).waitFor();
  await pop.getByText('olga@example.com').waitFor();
  await pop.getByText('C-1002').waitFor();
  await pop.getByText('gold').waitFor();
  const phones = pop.locator('.crm-phone');
  assert.equal(await phones.count(), 2);
  await phones.filter({ hasText: '+4915110000102' }).getByText('not checked yet').waitFor();
  await pop.getByText('None before this one.').waitFor();
  await pop.getByText('No open cases.').waitFor();
  await interactionItem(ann, 'Olga WhatsApp').locator('.avatar .crm-count').filter({ hasText: '1' }).waitFor();
  // A send to the number fails: the number is flagged on the contact.
  await control(srv, '/faults/undeliverable', { wa_id: '4915110000102' });
  await sendText(ann, 'Let me check that for you');
  await outbound(ann, 'Let me check that for you').getByLabel('Failed', { exact: true }).waitFor();
  await pop.getByText('A number of this contact failed to receive messages.').waitFor();
  await phones.filter({ hasText: '+4915110000102' }).getByText('last send failed').waitFor();
  await docShot(ann, 'screen-pop');
  // Edit the contact.
  await pop.getByRole('button', { name: 'Edit contact' }).click();
  const edit = pop.getByRole('form', { name: 'Edit contact' });
  await edit.getByLabel('Email').fill('olga.o@example.org');
  await edit.getByLabel('tier').fill('platinum');
  await expectOk(ann, 'PATCH', /^\/api\/v1\/contacts\/[^/]+$/, () => edit.getByRole('button', { name: 'Save contact' }).click());
  await pop.getByText('olga.o@example.org').waitFor();
  await pop.getByText('platinum').waitFor();
  // Connect another number.
  await pop.getByRole('button', { name: 'Add number' }).click();
  const add = pop.getByRole('form', { name: 'Add number' });
  await add.getByLabel('Number to connect').fill('+49 (151) 1000-0188');
  await expectOk(ann, 'POST', /^\/api\/v1\/contacts\/[^/]+\/phones$/, () => add.getByRole('button', { name: 'Connect' }).click());
  await pop.getByText('Number +4915110000188 connected: not checked yet.').waitFor();
  assert.equal(await phones.count(), 3);
  // Save the transcript so far as an open case.
  await expectOk(ann, 'POST', /^\/api\/v1\/interactions\/[^/]+\/case$/, () => pop.getByRole('button', { name: 'Save transcript as case' }).click());
  await pop.getByText(/^Transcript saved as an open case/).waitFor();
  await pop.locator('.crm-cases li').first().getByText(/^Case of /).waitFor();
  const cases = await pageApi(ann, 'GET', `/api/v1/contacts/${olga.id}/cases?state=open`);
  assert.equal(cases.data.length, 1);
});

desktopTest('screen pop, several matches: the first is linked until the agent picks the second; re-linking by search', ['ann'], async ({ srv, pages: { ann } }) => {
  const paul = await adminApi(srv, 'POST', '/api/v1/contacts', { name: 'Paul Parent', phones: ['+4915110000103'] });
  const pia = await adminApi(srv, 'POST', '/api/v1/contacts', { name: 'Pia Partner', phones: ['+4915110000103'], email: 'pia@example.com' });
  await adminApi(srv, 'POST', '/api/v1/contacts', { name: 'Quentin Other', phones: ['+4915110000198'] });
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000103', 'P. Family', 'Our shared account');
  await offerCard(ann, 'P. Family').locator('.crm-offer-contact').filter({ hasText: '2 contacts match' }).waitFor();
  await acceptOffer(ann, 'P. Family', 'Our shared account');
  const pop = contactPanel(ann);
  await pop.getByText('2 contacts match').waitFor();
  await interactionItem(ann, 'P. Family').locator('.avatar .crm-count').filter({ hasText: '2' }).waitFor();
  const matches = pop.getByRole('list', { name: 'Matching contacts' });
  await matches.getByRole('listitem').filter({ hasText: 'Linked' }).waitFor();
  assert.equal(await matches.getByRole('listitem').count(), 2);
  // The first match is linked by default.
  const id = await interactionItem(ann, 'P. Family').getAttribute('data-id');
  const before = (await pageApi(ann, 'GET', `/api/v1/interactions/${id}`)).data.contact.id;
  const first = await matches.getByRole('listitem').first().locator('.crm-pick-name').textContent();
  const [firstC, secondC] = first.startsWith('Paul') ? [paul, pia] : [pia, paul];
  assert.equal(before, firstC.id);
  await pop.locator('.crm-name').filter({ hasText: firstC.name }).waitFor();
  // The agent picks the second.
  const put = await expectOk(ann, 'PUT', /\/contact$/, () => matches.getByRole('button', { name: `Use ${secondC.name}` }).click());
  assert.equal(put.contact.id, secondC.id);
  await pop.locator('.crm-name').filter({ hasText: secondC.name }).waitFor();
  await matches.getByRole('listitem').filter({ hasText: secondC.name }).getByText('Linked').waitFor();
  assert.equal((await pageApi(ann, 'GET', `/api/v1/interactions/${id}`)).data.contact.id, secondC.id);
  await ann.screenshot({ path: new URL('./screenshots/screen-pop-several.png', import.meta.url).pathname });
  // Manual re-linking: any contact, found by name.
  await pop.getByRole('button', { name: 'Change contact' }).click();
  const find = pop.getByRole('search', { name: 'Link a contact' });
  await find.getByLabel('Find a contact').fill('Quentin');
  await find.getByRole('button', { name: 'Find' }).click();
  await expectOk(ann, 'PUT', /\/contact$/, () => find.getByRole('button', { name: 'Link Quentin Other' }).click());
  await pop.locator('.crm-name').filter({ hasText: 'Quentin Other' }).waitFor();
  await matches.getByRole('button', { name: `Use ${firstC.name}` }).waitFor();
  assert.equal(await matches.getByText('Linked', { exact: true }).count(), 0, 'neither match is linked now');
  assert.equal((await pageApi(ann, 'GET', `/api/v1/interactions/${id}`)).data.contact.id, (await adminApi(srv, 'GET', '/api/v1/contacts?q=Quentin'))[0].id);
});

desktopTest('history with search: an earlier interaction\'s message is found by a word and shown in the history', ['ann'], async ({ srv, pages: { ann } }) => {
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  const waId = '4915110000104';
  await customerWrites(srv, waId, 'Hugo History', 'My invoice 4711 is wrong');
  await acceptOffer(ann, 'Hugo History', 'My invoice 4711 is wrong');
  await sendText(ann, 'I will correct the invoice today');
  await endAndWrapUp(ann, 'Hugo History');
  await customerWrites(srv, waId, 'Hugo History', 'Hello again, a new question');
  await acceptOffer(ann, 'Hugo History', 'Hello again, a new question');
  // The communication list: the conversation with its last message.
  const convs = convPanel(ann);
  await convs.getByRole('button', { name: /Hugo History/ }).filter({ hasText: 'Hello again, a new question' }).waitFor();
  // The screen pop lists the earlier interaction; the history shows both, each headed by its date.
  const pop = contactPanel(ann);
  await pop.locator('.crm-recent li').first().waitFor();
  await pop.getByRole('button', { name: 'History & search' }).click();
  const dialog = ann.getByRole('dialog', { name: 'History: Hugo History' });
  await dialog.waitFor();
  const history = dialog.getByRole('region', { name: 'Contact history' });
  await history.locator('section.crm-entry').nth(1).waitFor();
  assert.equal(await history.locator('section.crm-entry').count(), 2);
  assert.equal(await history.locator('h3.crm-entry-head').count(), 2);
  // Headed by the start date (e.g. "Mon, Nov 24, 2025 10:02 · Support · Ann Agent · finished").
  assert.match(await history.locator('h3.crm-entry-head').first().textContent(), /^\w{3}, \w{3} \d{1,2}, \d{4} .*Support.*finished/);
  // Search within the conversation: a prefix of a word finds both messages, highlighted.
  assert.equal(await dialog.getByLabel('In', { exact: true }).inputValue(), 'conversation');
  await dialog.getByRole('searchbox', { name: 'Search messages' }).fill('invoi');
  const found = await expectOk(ann, 'GET', /^\/api\/v1\/search$/, () => dialog.getByRole('button', { name: 'Search', exact: true }).click());
  assert.equal(found.messages.length, 2);
  await dialog.getByText('2 messages found for “invoi”').waitFor();
  const hits = dialog.getByRole('list', { name: 'Search results' });
  const hit = hits.getByRole('button', { name: /My invoice 4711 is wrong/ });
  assert.equal(await hit.locator('mark').textContent(), 'invoi');
  // Picking the hit shows it in the history, focused, with the word marked.
  await hit.click();
  const shown = history.locator('li.msg.crm-hit-focus');
  await shown.filter({ hasText: 'My invoice 4711 is wrong' }).waitFor();
  assert.equal(await shown.evaluate((e) => document.activeElement === e), true);
  assert.equal(await shown.locator('mark').first().textContent(), 'invoi');
  assert.ok(await shown.isVisible());
  await docShot(ann, 'history');
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'hidden' });
  // Across all conversations, from the Conversations panel.
  await convs.getByRole('searchbox', { name: 'Search all messages' }).fill('4711');
  await convs.getByRole('button', { name: 'Search', exact: true }).click();
  const all = ann.getByRole('dialog', { name: 'Search' });
  const allHit = all.getByRole('list', { name: 'Search results' }).getByRole('button', { name: /My invoice 4711 is wrong/ });
  await allHit.click();
  await ann.getByRole('dialog', { name: 'History: Hugo History' }).locator('li.msg.crm-hit-focus').filter({ hasText: '4711' }).waitFor();
});

desktopTest('a template with an image header goes out outside the 24-hour window and shows in the transcript; a button tap quotes it', ['ann'], async ({ srv, pages: { ann } }) => {
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  const waId = '4915110000105';
  await customerWrites(srv, waId, 'Tina Template', 'Can you send a photo of my parcel?');
  await acceptOffer(ann, 'Tina Template', 'Can you send a photo of my parcel?');
  // A day passes on the server: a text is refused, so a template is needed.
  await advanceClock(srv, 24 * 3600 + 60);
  const box = ann.getByRole('textbox', { name: 'Message' });
  await box.fill('Here it comes');
  const refused = ann.waitForResponse(isResp('POST', /\/messages$/));
  await box.press('Enter');
  assert.equal((await refused).status(), 422);
  const templates = ann.getByRole('button', { name: 'Templates…' });
  await ann.locator('#crm-template-btn.crm-needed').waitFor();
  await templates.click();
  const dialog = ann.getByRole('dialog', { name: 'Send a template to Tina Template' });
  await dialog.waitFor();
  await dialog.getByText('The 24-hour window is closed').waitFor();
  // Only approved templates of this number are offered.
  const list = dialog.getByRole('list', { name: 'Approved templates' });
  await list.getByRole('button', { name: /^shipping_photo/ }).waitFor();
  assert.equal(await list.getByRole('button', { name: /spring_sale|flash_offer/ }).count(), 0);
  await dialog.getByRole('searchbox', { name: 'Find a template' }).fill('ship');
  assert.equal(await list.getByRole('button').count(), 1);
  await expectOk(ann, 'GET', /\/templates\/[^/]+\/preview$/, () => list.getByRole('button', { name: /^shipping_photo/ }).click());
  const send = dialog.getByRole('button', { name: 'Send template' });
  assert.equal(await send.isDisabled(), true, 'the header image and the variable are missing');
  // Send says why it is disabled: what is still missing, as the fields name it.
  const missing = dialog.getByText(/^To send, fill in /);
  assert.equal(await missing.textContent(), 'To send, fill in the header image and Body {{1}}.');
  assert.equal(await send.getAttribute('aria-describedby'), await missing.getAttribute('id'));
  await dialog.getByLabel('Body {{1}}').fill('P-42');
  assert.equal(await missing.textContent(), 'To send, fill in the header image.');
  await dialog.getByLabel('Header image').setInputFiles({ name: 'parcel.png', mimeType: 'image/png', buffer: makePng(96) });
  await missing.waitFor({ state: 'detached' });
  assert.equal(await send.isEnabled(), true);
  const preview = dialog.getByRole('region', { name: 'Template preview' });
  await preview.getByText('Here is a photo of parcel P-42, ready to ship.').waitFor();
  await preview.getByRole('img', { name: 'Header image' }).waitFor();
  await preview.getByText('Reply to this message with any question').waitFor();
  assert.equal(await preview.getByText('null', { exact: true }).count(), 0);
  await docShot(ann, 'templates');
  const sent = ann.waitForResponse(isResp('POST', /\/messages$/));
  await send.click();
  const resp = await sent;
  assert.equal(resp.status(), 201, `template send answered ${resp.status()}`);
  assert.ok(resp.request().headers()['content-type'].startsWith('multipart/form-data'));
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await ann.locator('#compose-error').textContent(), '', 'the refusal is answered');
  // In the transcript: header image, body, footer; it is delivered (WhatsApp accepted it).
  const msg = transcript(ann).locator('li.msg.out').filter({ hasText: 'Here is a photo of parcel P-42, ready to ship.' });
  await msg.getByText('Template shipping_photo').waitFor();
  await msg.locator('img.media-img').waitFor();
  await msg.getByText('Reply to this message with any question').waitFor();
  await msg.getByLabel('Delivered', { exact: true }).or(msg.getByLabel('Read', { exact: true })).waitFor();
  assert.equal(await box.inputValue(), 'Here it comes', 'the text typed is kept');
  // A template with quick-reply buttons (JSON send); the customer taps one: a reply quoting it.
  await templates.click();
  await dialog.waitFor();
  await expectOk(ann, 'GET', /\/preview$/, () => list.getByRole('button', { name: /^order_update/ }).click());
  await dialog.getByLabel('Body {{1}}').fill('A-7');
  const json = ann.waitForResponse(isResp('POST', /\/messages$/));
  await send.click();
  const jr = await json;
  assert.equal(jr.status(), 201);
  assert.ok(jr.request().headers()['content-type'].startsWith('application/json'));
  const order = transcript(ann).locator('li.msg.out').filter({ hasText: 'Your order A-7 has been updated.' });
  const buttons = order.getByRole('list', { name: 'Template buttons' });
  await buttons.getByText('Talk to an agent').waitFor();
  await buttons.getByText('All good').waitFor();
  await order.getByLabel('Delivered', { exact: true }).or(order.getByLabel('Read', { exact: true })).waitFor();
  const id = await interactionItem(ann, 'Tina Template').getAttribute('data-id');
  const page = await pageApi(ann, 'GET', `/api/v1/interactions/${id}/messages?limit=50`);
  const wamid = page.data.messages.find((m) => m.type === 'template' && m.payload.template.name === 'order_update').wa_message_id;
  assert.ok(wamid, 'the template message has its WhatsApp id');
  await control(srv, `/customers/${waId}/button`, { name: 'Tina Template', context_id: wamid, text: 'Talk to an agent' });
  const tap = transcript(ann).locator('li.msg.in').filter({ has: ann.locator('blockquote.tpl-quote') });
  await tap.getByText('Reply to template order_update').waitFor();
  await tap.locator('.tpl-quote-text').filter({ hasText: 'Your order A-7 has been updated.' }).waitFor();
  await tap.locator('p.text').filter({ hasText: 'Talk to an agent' }).waitFor();
});

desktopTest('New conversation: with a contact inside the window a first text goes with it; to a new number a template is needed', ['ann'], async ({ srv, pages: { ann } }) => {
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000106', 'Olli Outbound', 'Please write me later about the refund');
  await acceptOffer(ann, 'Olli Outbound', 'Please write me later about the refund');
  await endAndWrapUp(ann, 'Olli Outbound');
  await ann.getByText('No interactions yet').waitFor();
  await setStatus(ann, 'On break');
  // Inside the window: pick the contact, a first text goes with the start.
  const convs = convPanel(ann);
  await convs.getByRole('button', { name: 'New conversation' }).click();
  const dialog = ann.getByRole('dialog', { name: 'New conversation' });
  await dialog.getByRole('searchbox', { name: 'Contact or number' }).fill('Olli');
  await dialog.getByRole('button', { name: 'Choose Olli Outbound' }).click();
  await dialog.getByText('To Olli Outbound').waitFor();
  await dialog.getByLabel('First message').fill('Your refund went out today');
  const started = await expectOk(ann, 'POST', /^\/api\/v1\/interactions$/, () => dialog.getByRole('button', { name: 'Start conversation' }).click());
  assert.equal(started.state, 'active');
  await dialog.waitFor({ state: 'hidden' });
  // It opens active in the agent's list, selected, with the text sent; no offer.
  const item = interactionItem(ann, 'Olli Outbound');
  await item.waitFor();
  assert.equal(await item.getAttribute('aria-current'), 'true');
  await outbound(ann, 'Your refund went out today').waitFor();
  assert.equal(await ann.getByRole('article').count(), 0);
  await ann.getByRole('toolbar', { name: 'Interaction actions' }).getByRole('button', { name: 'End', exact: true }).waitFor();
  // A new number outside any window: the server asks for a template, the picker opens.
  await convs.getByRole('button', { name: 'New conversation' }).click();
  await dialog.getByRole('searchbox', { name: 'Contact or number' }).fill('+49 151 10000107');
  await dialog.getByLabel('First message').fill('Hello from Switchboard support');
  const refused = ann.waitForResponse((r) => isResp('POST', /^\/api\/v1\/interactions$/)(r) && r.status() === 422);
  const opened = ann.waitForResponse((r) => isResp('POST', /^\/api\/v1\/interactions$/)(r) && r.status() === 201);
  await dialog.getByRole('button', { name: 'Start conversation' }).click();
  assert.equal((await (await refused).json()).error.code, 'template_required');
  const it = await (await opened).json();
  const tdialog = ann.getByRole('dialog', { name: /^Send a template to / });
  await tdialog.getByText('start with an approved template').waitFor();
  const newItem = interactionItem(ann, '4915110000107');
  await newItem.waitFor();
  assert.equal(await newItem.getAttribute('data-id'), it.id);
  await expectOk(ann, 'GET', /\/preview$/, () => tdialog.getByRole('button', { name: /^hello_world/ }).click());
  await tdialog.getByRole('region', { name: 'Template preview' }).getByText('Hello World').waitFor();
  const sent = await expectOk(ann, 'POST', /\/messages$/, () => tdialog.getByRole('button', { name: 'Send template' }).click());
  assert.equal(sent.type, 'template');
  const msg = transcript(ann).locator('li.msg.out').filter({ hasText: 'Template hello_world' });
  await msg.getByText('Hello World').waitFor();
  await msg.getByText('WhatsApp Business Platform sample message').waitFor();
  // The text typed is kept in the compose box for when the customer answers.
  assert.equal(await ann.getByRole('textbox', { name: 'Message' }).inputValue(), 'Hello from Switchboard support');
});

desktopTest('supervisors merge a duplicate contact into the linked one; agents are not offered it', ['ann'], async ({ srv, pages: { ann } }) => {
  const rita = await adminApi(srv, 'POST', '/api/v1/contacts', { name: 'Rita Real', phones: ['+4915110000104'] });
  const dup = await adminApi(srv, 'POST', '/api/v1/contacts', {
    name: 'R. Duplicate', email: 'rita@example.com', phones: ['+4915110000197'], fields: { customer_no: 'C-1004' },
  });
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000104', 'Rita WhatsApp', 'Hi again');
  await acceptOffer(ann, 'Rita WhatsApp', 'Hi again');
  const pop = contactPanel(ann);
  await pop.locator('.crm-name').filter({ hasText: 'Rita Real' }).waitFor();
  await pop.getByRole('button', { name: 'History & search' }).waitFor();
  assert.equal(await pop.getByRole('button', { name: 'Merge a duplicate' }).count(), 0, 'an agent cannot merge');

  // Ann becomes a supervisor; after a reload the panel offers the merge.
  const agents = await adminApi(srv, 'GET', '/api/v1/agents');
  const annId = agents.find((a) => a.username === 'ann').id;
  await adminApi(srv, 'PATCH', `/api/v1/agents/${annId}`, { role: 'supervisor' });
  await ann.reload();
  await ann.getByRole('status').filter({ hasText: 'Live' }).waitFor();
  await interactionItem(ann, 'Rita WhatsApp').click();
  await pop.locator('.crm-name').filter({ hasText: 'Rita Real' }).waitFor();
  await pop.getByRole('button', { name: 'Merge a duplicate' }).click();
  const form = pop.getByRole('search', { name: 'Merge a duplicate' });
  await form.getByLabel('Find a duplicate of Rita Real').fill('R. Dup');
  await form.getByRole('button', { name: 'Find' }).click();
  await form.getByText('1 other contact found').waitFor();
  await form.getByRole('button', { name: 'Merge R. Duplicate into Rita Real' }).click();
  // Asked once more: a merge cannot be undone. "Keep both" changes nothing.
  const ask = form.getByRole('group', { name: 'Merge R. Duplicate' });
  await ask.getByText(/cannot be undone/).waitFor();
  await ask.getByRole('button', { name: 'Keep both' }).click();
  await ask.waitFor({ state: 'detached' });
  assert.equal((await pageApi(ann, 'GET', `/api/v1/contacts/${dup.id}`)).data.id, dup.id);
  await form.getByRole('button', { name: 'Merge R. Duplicate into Rita Real' }).click();
  await ask.getByText(/cannot be undone/).waitFor();
  await docShot(ann, 'merge');
  await expectOk(ann, 'POST', /^\/api\/v1\/contacts\/[^/]+\/merge$/, () => ask.getByRole('button', { name: 'Merge', exact: true }).click());
  await pop.getByText('R. Duplicate was merged into Rita Real.').waitFor();
  // The record has the duplicate's email, field and number now.
  await pop.getByText('rita@example.com').waitFor();
  await pop.getByText('C-1004').waitFor();
  await pop.locator('.crm-phone').filter({ hasText: '+4915110000197' }).waitFor();
  assert.equal(await pop.getByRole('form', { name: 'Merge a duplicate' }).count(), 0);
  // The duplicate answers with the contact it was merged into.
  const merged = await pageApi(ann, 'GET', `/api/v1/contacts/${dup.id}`);
  assert.equal(merged.data.id, rita.id);
});

desktopTest('a chat saved without a contact is assigned from the Contact panel once the customer is known', ['ann'], async ({ srv, pages: { ann } }) => {
  await adminApi(srv, 'PATCH', '/api/v1/settings', { new_contact_policy: 'prompt' });
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  // A first chat nobody links to a contact: its wrap-up leaves a closed case without one.
  await customerWrites(srv, '4915110000105', 'Sam Nameless', 'First visit');
  await acceptOffer(ann, 'Sam Nameless', 'First visit');
  await endAndWrapUp(ann, 'Sam Nameless');
  await interactionItem(ann, 'Sam Nameless').waitFor({ state: 'detached' });
  // The customer comes back: the panel lists that case, to assign once there is a contact.
  await customerWrites(srv, '4915110000105', 'Sam Nameless', 'Back again');
  await acceptOffer(ann, 'Sam Nameless', 'Back again');
  const pop = contactPanel(ann);
  const loose = pop.getByRole('list', { name: 'Cases without a contact' });
  await loose.getByRole('listitem').filter({ hasText: 'closed' }).waitFor();
  await pop.getByText('Link or create the contact to assign them.').waitFor();
  // The case opens: closed, with the first chat's transcript.
  const chat = loose.getByRole('button', { name: /^Chat of / });
  const title = await chat.innerText();
  await expectOk(ann, 'GET', /^\/api\/v1\/cases\/[^/]+$/, () => chat.click());
  const dlg = ann.getByRole('dialog', { name: title });
  await dlg.locator('.crm-case-facts').getByText(/^Closed /).waitFor();
  await dlg.getByRole('list', { name: 'Messages and notes' }).getByText('First visit').waitFor();
  assert.equal(await dlg.getByRole('list', { name: 'Messages and notes' }).getByText('Back again').count(), 0);
  await dlg.getByRole('button', { name: 'Close' }).click();
  await dlg.waitFor({ state: 'hidden' });
  const form = pop.getByRole('form', { name: 'New contact' });
  await form.getByLabel('Name').fill('Sam Sample');
  const created = await expectOk(ann, 'POST', /^\/api\/v1\/contacts$/, () => form.getByRole('button', { name: 'Create contact' }).click());
  await pop.locator('.crm-name').filter({ hasText: 'Sam Sample' }).waitFor();
  await expectOk(ann, 'PATCH', /^\/api\/v1\/cases\/[^/]+$/, () => loose.getByRole('button', { name: 'Assign to Sam Sample' }).click());
  await pop.getByText(/is now a case of Sam Sample\.$/).waitFor();
  assert.equal(await pop.getByRole('list', { name: 'Cases without a contact' }).count(), 0);
  const cases = await pageApi(ann, 'GET', `/api/v1/contacts/${created.id}/cases`);
  assert.equal(cases.data.length, 1);
  assert.equal(cases.data[0].state, 'closed');
  // Its interaction is in the contact's history now.
  await pop.locator('.crm-recent li').first().waitFor();
});

desktopTest('New conversation: the "choose a contact" error goes away once a contact is chosen', ['ann'], async ({ srv, pages: { ann } }) => {
  await adminApi(srv, 'POST', '/api/v1/contacts', { name: 'Uma Outbound', phones: ['+4915110000108'] });
  await login(ann, srv, 'ann');
  await convPanel(ann).getByRole('button', { name: 'New conversation' }).click();
  const dialog = ann.getByRole('dialog', { name: 'New conversation' });
  const to = dialog.getByRole('searchbox', { name: 'Contact or number' });
  const error = dialog.getByRole('alert');
  // Start with nothing chosen: refused, with the reason.
  await dialog.getByRole('button', { name: 'Start conversation' }).click();
  await error.filter({ hasText: 'Choose a contact from the list, or type a full number.' }).waitFor();
  assert.equal(await to.getAttribute('aria-invalid'), 'true');
  // A contact is chosen: the refusal no longer applies and no longer shows.
  await to.fill('Uma');
  await dialog.getByRole('button', { name: 'Choose Uma Outbound' }).click();
  await dialog.getByText('To Uma Outbound').waitFor();
  assert.equal(await dialog.getByText('Choose a contact from the list, or type a full number.').count(), 0, 'no stale error once a contact is chosen');
  assert.equal(await to.getAttribute('aria-invalid'), null);
});

desktopTest('New conversation at full load is refused with the reason; the load never goes over capacity (R-2.3)', ['ann'], async ({ srv, pages: { ann } }) => {
  await adminApi(srv, 'POST', '/api/v1/contacts', { name: 'Vito Outbound', phones: ['+4915110000109'] });
  const agents = await adminApi(srv, 'GET', '/api/v1/agents');
  const annId = agents.find((a) => a.username === 'ann').id;
  await adminApi(srv, 'PATCH', `/api/v1/agents/${annId}`, { capacity: 1 });
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000110', 'Wanda Waiting', 'One question');
  await acceptOffer(ann, 'Wanda Waiting', 'One question');
  await ann.getByText('Load 1/1').waitFor();
  await convPanel(ann).getByRole('button', { name: 'New conversation' }).click();
  const dialog = ann.getByRole('dialog', { name: 'New conversation' });
  await dialog.getByRole('searchbox', { name: 'Contact or number' }).fill('Vito');
  await dialog.getByRole('button', { name: 'Choose Vito Outbound' }).click();
  const refused = ann.waitForResponse(isResp('POST', /^\/api\/v1\/interactions$/));
  await dialog.getByRole('button', { name: 'Start conversation' }).click();
  const resp = await refused;
  assert.equal(resp.status(), 409);
  assert.equal((await resp.json()).error.code, 'at_capacity');
  // The agent reads why, the dialog stays open with the contact chosen, nothing opened.
  await dialog.getByRole('alert').filter({ hasText: 'you are at capacity (1 of 1 interactions): end or wrap up one before starting another' }).waitFor();
  await dialog.getByText('To Vito Outbound').waitFor();
  assert.equal(await interactionItem(ann, 'Vito Outbound').count(), 0);
  assert.equal(await ann.locator('#load').textContent(), 'Load 1/1');
  const me = await pageApi(ann, 'GET', '/api/v1/me');
  assert.equal(me.data.load, 1);
});

desktopTest('a supervisor opens a conversation without a contact from the Conversations list and sees its messages', ['ann', 'bob'], async ({ srv, pages: { ann, bob } }) => {
  // No contact is created for new customers: the conversation has none to show the history of.
  await adminApi(srv, 'PATCH', '/api/v1/settings', { new_contact_policy: 'prompt' });
  const agents = await adminApi(srv, 'GET', '/api/v1/agents');
  const annId = agents.find((a) => a.username === 'ann').id;
  await adminApi(srv, 'PATCH', `/api/v1/agents/${annId}`, { role: 'supervisor' });
  await login(ann, srv, 'ann');
  await login(bob, srv, 'bob');
  await setStatus(bob, 'Available');
  await customerWrites(srv, '4915110000111', 'Xena Other', 'Bob, are you there?');
  await acceptOffer(bob, 'Xena Other', 'Bob, are you there?');
  await sendText(bob, 'Yes, Bob here.');
  // Ann never handled it; as a supervisor she sees it in the communication list.
  const convs = convPanel(ann);
  await convs.getByRole('button', { name: 'Refresh list' }).click();
  const item = convs.getByRole('button', { name: /Xena Other/ });
  await item.waitFor();
  await item.click();
  const dialog = ann.getByRole('dialog', { name: 'Conversation: Xena Other' });
  await dialog.waitFor();
  const history = dialog.getByRole('region', { name: 'Conversation history' });
  await history.locator('li.msg.in').filter({ hasText: 'Bob, are you there?' }).waitFor();
  const reply = history.locator('li.msg.out').filter({ hasText: 'Yes, Bob here.' });
  await reply.waitFor();
  assert.equal(await reply.locator('.author').textContent(), 'Bob Agent');
  assert.match(await history.locator('h3.crm-entry-head').first().textContent(), /^\w{3}, \w{3} \d{1,2}, \d{4} /);
  // Searching within it still works.
  assert.equal(await dialog.getByLabel('In', { exact: true }).inputValue(), 'conversation');
});

desktopTest('a saved case opens from the Contact panel: its facts and transcript with the private note marked as such (R-4.6, R-3.7)', ['ann'], async ({ srv, pages: { ann } }) => {
  const carla = await adminApi(srv, 'POST', '/api/v1/contacts', { name: 'Carla Casefile', phones: ['+4915110000107'] });
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4915110000107', 'Carla WA', 'My invoice shows the wrong address');
  await acceptOffer(ann, 'Carla WA', 'My invoice shows the wrong address');
  await sendText(ann, 'I will correct it and send a new one.');
  // A private note on the chat, then the transcript saved as an open case.
  const notes = panel(ann).getByRole('region', { name: 'Notes' });
  await notes.getByLabel('Add a private note').fill('Billing address changed in March');
  await notes.getByRole('button', { name: 'Add note' }).click();
  await notes.getByRole('list', { name: 'Private notes' }).getByText('Billing address changed in March').waitFor();
  const pop = contactPanel(ann);
  await expectOk(ann, 'POST', /^\/api\/v1\/interactions\/[^/]+\/case$/, () => pop.getByRole('button', { name: 'Save transcript as case' }).click());
  // The case in the Open cases list opens the dialog with the case as the API answers it.
  const link = pop.getByRole('list', { name: 'Open cases' }).getByRole('button', { name: /^Case of / });
  const title = await link.innerText();
  const opened = await expectOk(ann, 'GET', /^\/api\/v1\/cases\/[^/]+$/, () => link.click());
  assert.equal(opened.contact_id, carla.id);
  const dlg = ann.getByRole('dialog', { name: title });
  const facts = dlg.locator('.crm-case-facts');
  await facts.getByText('Open', { exact: true }).waitFor();
  await facts.getByText('Ann Agent', { exact: true }).waitFor();
  const items = dlg.getByRole('list', { name: 'Messages and notes' }).getByRole('listitem');
  await items.filter({ hasText: 'My invoice shows the wrong address' }).waitFor();
  await items.filter({ hasText: 'I will correct it and send a new one.' }).waitFor();
  const note = items.filter({ hasText: 'Billing address changed in March' });
  assert.match(await note.innerText(), /Private note by Ann Agent/);
  assert.match(await note.innerText(), /Not seen by the customer/);
  assert.equal(await note.getAttribute('class'), 'msg note');
  // Notes sit between the messages by time: after the reply written before it.
  const texts = await items.allInnerTexts();
  const at = (s) => texts.findIndex((t) => t.includes(s));
  assert.ok(at('I will correct it') < at('Billing address changed'), texts.join(' | '));
  await dlg.getByRole('status').filter({ hasText: '1 private note' }).waitFor();
  await docShot(ann, 'case');
  await dlg.getByRole('button', { name: 'Close' }).click();
  await dlg.waitFor({ state: 'hidden' });
  // Focus goes back to the case's link.
  assert.equal(await link.evaluate((b) => b === document.activeElement), true);
});

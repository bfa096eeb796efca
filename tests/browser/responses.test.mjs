// Real-browser tests of standard responses and private notes in the desk: the
// `/` picker driven by the keyboard, placeholders filled for the interaction, an unfilled one
// left selected and Send refused until it is filled; the Responses panel's search; a note added,
// listed and shown in the contact's history. The admin keeps the library through the API.
// Same fixture as desktop.test.mjs; no fixed sleeps.

import assert from 'node:assert/strict';
import {
  useBrowser, desktopTest, login, setStatus, customerWrites, adminApi, transcript, outbound, acceptOffer,
  endAndWrapUp, docShot, pageApi,
} from './helpers.mjs';

useBrowser();

const panel = (page) => page.getByRole('complementary', { name: 'Details' });
const messageBox = (page) => page.getByRole('textbox', { name: 'Message' });
const picker = (page) => page.getByRole('listbox', { name: 'Standard responses' });

/** The library: a global greeting with placeholders, global hours, and one of the Sales queue. */
async function library(srv) {
  const queues = await adminApi(srv, 'GET', '/api/v1/queues');
  const sales = queues.find((q) => q.name === 'Sales');
  await adminApi(srv, 'POST', '/api/v1/responses', {
    title: 'Greeting', category: 'Opening', shortcut: 'greet',
    text: 'Hello {{contact.first_name}}, this is {{agent.first_name}} from {{queue.name}}. Your order number is {{contact.fields.order}}?',
  });
  await adminApi(srv, 'POST', '/api/v1/responses', {
    title: 'Opening hours', category: 'Info', shortcut: 'hours', text: 'We are open 9 to 17 on weekdays.',
  });
  await adminApi(srv, 'POST', '/api/v1/responses', {
    title: 'Sales discount', category: 'Info', shortcut: 'discount', text: 'Ten percent off today.', queue_ids: [sales.id],
  });
}

/** The box's text and what is selected in it. */
const boxState = (page) => messageBox(page).evaluate((b) => ({
  value: b.value, selected: b.value.slice(b.selectionStart, b.selectionEnd),
}));

desktopTest('the / picker inserts a filled response; an unfilled placeholder stays selected and blocks Send', ['ann'], async ({ srv, pages: { ann } }) => {
  await library(srv);
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4917011112222', 'Mia Customer', 'Is my order on its way?');
  await acceptOffer(ann, 'Mia Customer', 'Is my order on its way?');

  const box = messageBox(ann);
  await box.click();
  await box.pressSequentially('Thanks! /');
  // Every response ann may use, by shortcut; the Sales queue's is not hers.
  const list = picker(ann);
  await list.waitFor();
  const options = list.getByRole('option');
  await options.nth(1).waitFor();
  assert.deepEqual(await options.allInnerTexts().then((t) => t.map((x) => x.split('\n')[0].trim())), ['/greet', '/hours']);
  assert.equal(await options.nth(0).getAttribute('aria-selected'), 'true');
  assert.equal(await box.getAttribute('aria-activedescendant'), await options.nth(0).getAttribute('id'));
  await box.press('ArrowDown');
  assert.equal(await options.nth(1).getAttribute('aria-selected'), 'true');
  assert.equal(await box.getAttribute('aria-activedescendant'), await options.nth(1).getAttribute('id'));
  await box.press('ArrowDown'); // wraps around
  assert.equal(await options.nth(0).getAttribute('aria-selected'), 'true');
  await docShot(ann, 'response-picker');
  // Escape closes it and keeps the text.
  await box.press('Escape');
  await list.waitFor({ state: 'hidden' });
  assert.equal((await boxState(ann)).value, 'Thanks! /');
  // Typing on filters by shortcut (then title); Enter inserts the filled text in place of /gr.
  await box.pressSequentially('gr');
  await list.waitFor();
  assert.equal(await options.count(), 1);
  const filled = ann.waitForResponse((r) => /\/responses\/rsp_/.test(r.url()));
  await box.press('Enter');
  assert.ok((await filled).ok());
  await list.waitFor({ state: 'hidden' });
  await ann.waitForFunction(() => document.getElementById('compose-text').value.includes('Hello'));
  // Filled for the interaction; the order number has no value: left as it was, and selected.
  assert.deepEqual(await boxState(ann), {
    value: 'Thanks! Hello Mia, this is Ann from Support. Your order number is {{contact.fields.order}}?',
    selected: '{{contact.fields.order}}',
  });
  // Send is refused while it remains: nothing goes out.
  let posted = 0;
  ann.on('request', (r) => { if (r.method() === 'POST' && /\/messages$/.test(r.url())) posted += 1; });
  await ann.getByRole('button', { name: 'Send' }).click();
  await ann.getByRole('alert').filter({ hasText: 'Not sent: fill in {{contact.fields.order}} first' }).waitFor();
  assert.equal(posted, 0);
  assert.equal((await boxState(ann)).selected, '{{contact.fields.order}}', 'the placeholder is selected again');
  // The agent types over the selection; the refusal goes, and Enter sends.
  await ann.keyboard.type('A-4711');
  await ann.getByRole('alert').filter({ hasText: 'fill in' }).waitFor({ state: 'hidden' });
  await box.press('Enter');
  await outbound(ann, 'Thanks! Hello Mia, this is Ann from Support. Your order number is A-4711?').waitFor();
  assert.equal(posted, 1);
  assert.equal(await transcript(ann).getByText('{{', { exact: false }).count(), 0);
});

desktopTest('the Responses panel searches and inserts; a private note is listed and kept in the history', ['ann'], async ({ srv, pages: { ann } }) => {
  await library(srv);
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  const waId = '4917033334444';
  await customerWrites(srv, waId, 'Nora Notes', 'When are you open?');
  await acceptOffer(ann, 'Nora Notes', 'When are you open?');

  const responses = panel(ann).getByRole('region', { name: 'Responses' });
  const found = responses.getByRole('list', { name: 'Standard responses found' });
  await found.getByRole('listitem').nth(1).waitFor();
  assert.equal(await found.getByRole('listitem').count(), 2, 'the global ones; not the Sales queue\'s');
  await responses.getByRole('searchbox', { name: 'Search responses' }).fill('WEEKDAYS');
  await responses.getByRole('button', { name: 'Search' }).click();
  await responses.getByRole('status').filter({ hasText: '1 response' }).waitFor();
  await found.getByText('Opening hours').waitFor();
  await responses.getByRole('searchbox', { name: 'Search responses' }).fill('');
  await responses.getByLabel('Category').selectOption('Opening');
  await responses.getByRole('status').filter({ hasText: '1 response' }).waitFor();
  await found.getByText('Greeting').waitFor();
  await responses.getByLabel('Category').selectOption('');
  await found.getByRole('listitem').nth(1).waitFor();
  await found.getByRole('button', { name: 'Insert Opening hours' }).click();
  await ann.waitForFunction(() => document.getElementById('compose-text').value === 'We are open 9 to 17 on weekdays.');
  await messageBox(ann).press('Enter');
  await outbound(ann, 'We are open 9 to 17 on weekdays.').waitFor();

  // A private note: added, listed, marked as never sent.
  const notes = panel(ann).getByRole('region', { name: 'Notes' });
  await notes.getByRole('status').filter({ hasText: 'No notes yet.' }).waitFor();
  await notes.getByLabel('Add a private note').fill('Wants a callback after 16:00');
  await notes.getByRole('button', { name: 'Add note' }).click();
  const listed = notes.getByRole('list', { name: 'Private notes' }).getByRole('listitem');
  await listed.filter({ hasText: 'Wants a callback after 16:00' }).waitFor();
  assert.match(await listed.first().innerText(), /Private note by you/);
  assert.match(await listed.first().innerText(), /Not seen by the customer/);
  await notes.getByRole('status').filter({ hasText: '1 private note' }).waitFor();
  // A note someone else adds (an admin, through the API) appears at once, live.
  const { data: mine } = await pageApi(ann, 'GET', '/api/v1/interactions');
  await adminApi(srv, 'POST', `/api/v1/interactions/${mine[0].id}/notes`, { text: 'Checked: callback booked' });
  await listed.filter({ hasText: 'Checked: callback booked' }).waitFor();
  await notes.getByRole('status').filter({ hasText: '2 private notes' }).waitFor();
  await notes.scrollIntoViewIfNeeded();
  await docShot(ann, 'notes');
  // Never sent: not in the transcript as a message to the customer.
  assert.equal(await transcript(ann).locator('li.msg.out').filter({ hasText: 'callback' }).count(), 0);

  // The next time Nora writes, the history shows the note beside the earlier messages.
  await endAndWrapUp(ann, 'Nora Notes');
  await customerWrites(srv, waId, 'Nora Notes', 'Me again');
  await acceptOffer(ann, 'Nora Notes', 'Me again');
  await notes.getByRole('status').filter({ hasText: 'No notes yet.' }).waitFor();
  const pop = panel(ann).getByRole('region', { name: 'Contact' });
  await pop.getByRole('button', { name: 'History & search' }).click();
  const history = ann.getByRole('dialog', { name: 'History: Nora Notes' }).getByRole('region', { name: 'Contact history' });
  const note = history.locator('li.msg.note').filter({ hasText: 'Wants a callback after 16:00' });
  await note.waitFor();
  assert.match(await note.innerText(), /Private note by Ann Agent/);
});

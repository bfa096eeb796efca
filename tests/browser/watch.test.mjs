// Real-browser test of a supervisor's silent watch and of who is viewing
// the supervisor opens a live chat from the list of live interactions, read-only, while
// the agent's unread count and WhatsApp's read receipts stay untouched and the agent is never
// shown the watcher; the supervisor whispers and takes over from there, and then the agent sees
// them among those who have the chat open. Same fixture as desktop.test.mjs; no fixed sleeps.

import assert from 'node:assert/strict';
import {
  useBrowser, desktopTest, login, setStatus, customerWrites, adminApi, transcript, acceptOffer, pageApi,
  interactionItem, control, docShot,
} from './helpers.mjs';

useBrowser();

desktopTest('a supervisor watches a chat silently, whispers and takes over', ['ann', 'sue'], async ({ srv, pages: { ann, sue } }) => {
  await adminApi(srv, 'POST', '/api/v1/agents', {
    username: 'sue', password: srv.agent_password, display_name: 'Sue Supervisor', role: 'supervisor',
  });
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4917012345678', 'Mia Customer', 'Where is my parcel?');
  await acceptOffer(ann, 'Mia Customer', 'Where is my parcel?');
  await customerWrites(srv, '4917087654321', 'Noah Customer', 'Can I change my order?');
  await acceptOffer(ann, 'Noah Customer', 'Can I change my order?');
  // Ann works on Noah's chat; Mia writes again: one unread message on Mia's chat.
  await customerWrites(srv, '4917012345678', 'Mia Customer', 'Hello? Anyone there?');
  const miaUnread = interactionItem(ann, 'Mia Customer').locator('.badge.unread');
  await miaUnread.filter({ hasText: '1' }).waitFor();
  const { data: list } = await pageApi(ann, 'GET', '/api/v1/interactions');
  const mia = list.find((x) => x.customer.name === 'Mia Customer');
  assert.equal(mia.unread, 1);

  // The supervisor opens Mia's chat from the live interactions, read-only.
  await login(sue, srv, 'sue');
  const live = sue.getByRole('list', { name: 'Live interactions' });
  await live.getByRole('button', { name: /Watch Mia Customer/ }).click();
  await sue.getByRole('status').filter({ hasText: 'Watching — the agent does not see you.' }).waitFor();
  const watched = sue.getByRole('list', { name: 'Watched transcript' });
  await watched.getByText('Hello? Anyone there?').waitFor();
  await watched.getByText('Where is my parcel?').waitFor();
  assert.equal(await sue.getByRole('textbox', { name: 'Message' }).isVisible(), false, 'no compose box');
  for (const name of ['Accept', 'End', 'Wrap-up…', 'Send']) {
    assert.equal(await sue.getByRole('button', { name, exact: true }).isVisible(), false, `no ${name} button`);
  }
  await sue.getByRole('status', { name: 'Also viewing' }).waitFor({ state: 'hidden' });

  // The customer writes on: the watcher sees it live; the agent's count goes on from hers.
  await customerWrites(srv, '4917012345678', 'Mia Customer', 'It was due yesterday.');
  await watched.getByText('It was due yesterday.').waitFor();
  await miaUnread.filter({ hasText: '2' }).waitFor();
  const { data: again } = await pageApi(ann, 'GET', `/api/v1/interactions/${mia.id}`);
  assert.equal(again.unread, 2, 'watching marks nothing read');
  assert.equal((await control(srv, '/whatsapp/sent', {})).read_receipts, 0, 'no read receipt reached WhatsApp');

  // Ann opens Mia's chat: the supervisor sees her; she is never shown the watcher.
  await interactionItem(ann, 'Mia Customer').click();
  await transcript(ann).getByText('It was due yesterday.').waitFor();
  await sue.getByRole('status', { name: 'Also viewing' }).filter({ hasText: 'Also viewing: Ann' }).waitFor();
  assert.equal(await ann.getByRole('status', { name: 'Also viewing' }).isVisible(), false, 'the agent is not told');

  // A whisper from the watch view reaches the agent only.
  await sue.getByLabel('Whisper to the agents').fill('Offer her the express refund');
  await sue.getByRole('button', { name: 'Whisper', exact: true }).click();
  await watched.locator('li.msg.whisper').filter({ hasText: 'Offer her the express refund' }).waitFor();
  await transcript(ann).locator('li.msg.whisper').filter({ hasText: 'Offer her the express refund' }).waitFor();
  await docShot(sue, 'watch');
  assert.equal(await ann.getByRole('status', { name: 'Also viewing' }).isVisible(), false);
  const sent = await control(srv, '/whatsapp/sent', {});
  assert.deepEqual(sent.texts, [], 'nothing was sent to the customer');
  assert.equal(sent.read_receipts, 0);

  // Taking over: the supervisor now works on the chat, and the agent sees who has it open.
  await sue.getByRole('button', { name: 'Take over' }).click();
  await sue.getByRole('status').filter({ hasText: 'Watching — the agent does not see you.' }).waitFor({ state: 'hidden' });
  await sue.getByRole('textbox', { name: 'Message' }).waitFor();
  await transcript(sue).getByText('It was due yesterday.').waitFor();
  await ann.getByRole('status', { name: 'Also viewing' }).filter({ hasText: 'Also viewing: Sue Supervisor' }).waitFor();
});

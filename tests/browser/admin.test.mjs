// Real-browser acceptance test of the admin console (issue 13): an admin who never touches the API
// sets up, from the console, a queue with two dispositions (one required), an agent in it, the
// WhatsApp number (disconnecting the fixture's and connecting it again to the new queue, with its
// webhook setup and a connection check), a standard response with placeholders and a shortcut, and
// an integration token. The agent then takes a customer's chat from that queue, inserts the
// response with `/shortcut` (placeholders filled), adds a note, ends and wraps up with the new
// disposition; the token reads every interaction and, once revoked in the console, gets 401.
// Agents and supervisors never see the console, even by typing its route. No fixed sleeps.

import assert from 'node:assert/strict';
import {
  useBrowser, desktopTest, login, setStatus, customerWrites, acceptOffer, adminApi, docShot, transcript,
} from './helpers.mjs';

useBrowser();

const menu = (page) => page.getByRole('navigation', { name: 'Admin sections' });
const openSection = async (page, name) => {
  await menu(page).getByRole('button', { name }).click();
  await page.getByRole('heading', { name, level: 2 }).waitFor();
};
const detailForm = (page, name) => page.getByRole('form', { name });
/** Opens a section and its "+ New …" form. */
const newItem = async (page, sectionName, button, formName) => {
  await openSection(page, sectionName);
  await page.getByRole('button', { name: button }).click();
  return detailForm(page, formName);
};

/** `GET /api/v1/interactions?all=true` with an integration token: the status. */
async function readWithToken(srv, token) {
  const r = await fetch(`${srv.base}/api/v1/interactions?all=true`, { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, data: await r.json() };
}

desktopTest('an admin sets everything up in the console and an agent works with it', ['admin', 'nina', 'sue'], async ({ srv, pages: { admin, nina, sue } }) => {
  const wa = srv.whatsapp;
  // ---- The admin logs in and lands on the console.
  await admin.goto(srv.base);
  await admin.getByLabel('Username').fill('admin');
  await admin.getByLabel('Password').fill(srv.admin_password);
  await admin.getByRole('button', { name: 'Log in' }).click();
  await menu(admin).waitFor();
  assert.equal(new URL(admin.url()).hash, '#/admin');
  await admin.getByRole('heading', { name: 'Users', level: 2 }).waitFor();

  // ---- A queue with two dispositions, one required at wrap-up.
  let form = await newItem(admin, 'Queues', '+ New queue', 'New queue');
  // The API's refusal, beside the field it names.
  await form.getByRole('button', { name: 'Create queue' }).click();
  await form.getByText('a queue needs a name').waitFor();
  assert.equal(await form.getByLabel('Name', { exact: true }).getAttribute('aria-invalid'), 'true');
  await form.getByLabel('Name', { exact: true }).fill('Billing');
  await form.getByLabel('Routing policy').selectOption({ label: 'Least busy' });
  await form.getByLabel('Time to accept an offer (s)').fill('90');
  await form.getByLabel('Response target (s)').fill('45');
  for (const [code, label] of [['paid', 'Paid in full'], ['callback', 'Call back later']]) {
    await form.getByRole('button', { name: '+ Add disposition' }).click();
    await form.getByLabel('Code').last().fill(code);
    await form.getByLabel('Label').last().fill(label);
  }
  await form.getByLabel('A disposition is required at wrap-up').check();
  await form.getByRole('button', { name: 'Create queue' }).click();
  await admin.getByRole('status').filter({ hasText: 'Queue Billing created.' }).waitFor();
  const billingRow = admin.getByRole('table', { name: 'Queues' }).getByRole('row').filter({ hasText: 'Billing' });
  await billingRow.filter({ hasText: '2 (required)' }).waitFor();
  await docShot(admin, 'admin-queues');

  // ---- An agent in it.
  form = await newItem(admin, 'Users', '+ New user', 'New user');
  await form.getByLabel('Username').fill('nina');
  await form.getByLabel('Display name').fill('Nina Novak');
  await form.getByLabel('Password').fill('short');
  await form.getByLabel('Capacity').fill('2');
  await form.getByRole('checkbox', { name: 'Billing' }).check();
  await form.getByRole('button', { name: 'Create user' }).click();
  await form.getByText('the password needs at least 8 characters').waitFor();
  await form.getByLabel('Password').fill(srv.agent_password);
  await form.getByRole('button', { name: 'Create user' }).click();
  await admin.getByRole('status').filter({ hasText: 'User nina created.' }).waitFor();
  await admin.getByRole('table', { name: 'Users' }).getByRole('row').filter({ hasText: 'Nina Novak' }).filter({ hasText: 'Billing' }).waitFor();
  await docShot(admin, 'admin-agents');

  // ---- The WhatsApp number, routed to the new queue: the fixture's connection goes (asked
  // first), the number is connected again with what Meta's app shows.
  await openSection(admin, 'Channels');
  await admin.getByRole('table', { name: 'Channels' }).getByRole('button', { name: wa.display_phone_number }).click();
  await admin.getByRole('button', { name: `Disconnect ${wa.display_phone_number}` }).click();
  const confirm = admin.getByRole('dialog', { name: `Disconnect ${wa.display_phone_number}?` });
  await confirm.getByRole('button', { name: 'Disconnect' }).click();
  await admin.getByRole('status').filter({ hasText: 'was disconnected' }).waitFor();
  await admin.getByText('No WhatsApp number is connected yet.').waitFor();
  await admin.getByRole('button', { name: '+ Connect a number' }).click();
  form = detailForm(admin, 'Connect a number');
  await form.getByLabel('Phone number', { exact: true }).fill(wa.display_phone_number);
  await form.getByLabel('Phone number id').fill(wa.phone_number_id);
  await form.getByLabel('WhatsApp business account id').fill(wa.waba_id);
  await form.getByLabel('Queue').selectOption({ label: 'Billing' });
  await form.getByLabel('Access token').fill(wa.access_token);
  await form.getByLabel('App secret').fill(wa.app_secret);
  await form.getByLabel('Verify token').fill('billing-verify-7');
  await form.getByRole('button', { name: 'Connect number' }).click();
  await admin.getByRole('status').filter({ hasText: `${wa.display_phone_number} connected.` }).waitFor();
  // Secrets are write-only: the edit form keeps them blank.
  assert.equal(await detailForm(admin, `Channel ${wa.display_phone_number}`).getByLabel('Access token').inputValue(), '');
  const connection = admin.getByRole('group', { name: 'Connection' });
  assert.equal(await connection.getByLabel('Webhook URL').inputValue(), `${srv.base}/webhooks/whatsapp`);
  assert.equal(await connection.getByLabel('Verify token').inputValue(), 'billing-verify-7');
  // Meta's handshake with that URL and token succeeds.
  const handshake = await fetch(`${srv.base}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=billing-verify-7&hub.challenge=31337`);
  assert.equal(await handshake.text(), '31337');
  await connection.getByRole('button', { name: 'Check connection' }).click();
  await connection.getByRole('status').filter({ hasText: 'Connected: Switchboard Test Business' }).waitFor();

  // ---- A standard response with placeholders and a shortcut.
  form = await newItem(admin, 'Standard responses', '+ New response', 'New standard response');
  await form.getByLabel('Title').fill('Invoice greeting');
  await form.getByLabel('Category').fill('Greetings');
  await form.getByLabel('Shortcut').fill('inv');
  await form.getByLabel('Text').fill('Hello ');
  await form.getByRole('button', { name: '{{contact.first_name}}' }).click();
  await form.getByLabel('Text').press('End');
  await form.getByLabel('Text').pressSequentially(', this is ');
  await form.getByRole('button', { name: '{{agent.display_name}}' }).click();
  await form.getByLabel('Text').pressSequentially(' from ');
  await form.getByRole('button', { name: '{{queue.name}}' }).click();
  await form.getByLabel('Text').pressSequentially('. Let me check your invoice.');
  await form.getByRole('checkbox', { name: 'Billing' }).check();
  await form.getByRole('button', { name: 'Create response' }).click();
  await admin.getByRole('status').filter({ hasText: 'Response Invoice greeting created.' }).waitFor();
  await admin.getByRole('table', { name: 'Standard responses' }).getByRole('row').filter({ hasText: '/inv' }).waitFor();

  // ---- An integration token, shown once.
  form = await newItem(admin, 'Integration tokens', '+ New token', 'New integration token');
  await form.getByLabel('Name').fill('Reporting export');
  await form.getByLabel('Acts as user').selectOption({ label: 'Administrator (admin)' });
  await form.getByLabel('Expires after (days)').fill('30');
  await form.getByRole('button', { name: 'Create token' }).click();
  const once = admin.getByRole('group', { name: 'The new token' });
  await once.getByText('it is shown only once').waitFor();
  const token = await once.getByLabel('Token').inputValue();
  assert.match(token, /^sbt_/);
  await admin.getByRole('table', { name: 'Integration tokens' }).getByRole('row').filter({ hasText: 'Reporting export' }).waitFor();
  await docShot(admin, 'admin-tokens');

  // ---- The agent takes a chat of the new queue.
  await login(nina, srv, 'nina');
  await setStatus(nina, 'Available');
  await customerWrites(srv, '4917612345678', 'Mia Jones', 'My invoice shows the wrong amount');
  await acceptOffer(nina, 'Mia Jones', 'My invoice shows the wrong amount');
  await insertResponse(nina, 'inv');
  // The filled text replaces `/inv` once the server's answer is in: wait for it, then compare.
  const filled = 'Hello Mia, this is Nina Novak from Billing. Let me check your invoice.';
  const box = nina.getByRole('textbox', { name: 'Message' });
  await nina.waitForFunction(() => !document.getElementById('compose-text').value.startsWith('/'));
  assert.equal(await box.inputValue(), filled);
  await nina.getByRole('button', { name: 'Send' }).click();
  await transcript(nina).getByText('Hello Mia, this is Nina Novak from Billing.').waitFor();
  await addNote(nina, 'Customer was charged twice; refund requested.');

  // ---- The token reads every interaction: Mia's chat among them.
  const read = await readWithToken(srv, token);
  assert.equal(read.status, 200, JSON.stringify(read.data));
  const mine = read.data.find((i) => i.customer && i.customer.name === 'Mia Jones');
  assert.ok(mine, `Mia's chat is listed: ${JSON.stringify(read.data)}`);
  assert.equal(mine.state, 'active');
  await nina.getByRole('button', { name: 'End', exact: true }).click();
  const wrap = nina.getByRole('dialog', { name: 'Wrap-up: Mia Jones' });
  await wrap.getByLabel('Disposition (required)').selectOption({ label: 'Paid in full' });
  await wrap.getByRole('button', { name: 'Submit wrap-up' }).click();
  await wrap.waitFor({ state: 'hidden' });

  // ---- The number's traffic, as the console shows it now.
  await openSection(admin, 'Channels');
  await admin.getByRole('table', { name: 'Channels' }).getByRole('button', { name: wa.display_phone_number }).click();
  const traffic = admin.getByRole('group', { name: 'Connection' });
  assert.doesNotMatch(await traffic.getByRole('definition').first().textContent(), /None/, 'a webhook was received');
  await traffic.getByRole('button', { name: 'Check connection' }).click();
  await traffic.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
  await docShot(admin, 'admin-channels');

  // ---- Revoked in the console, the token gets 401 at once.
  await openSection(admin, 'Integration tokens');
  const tokenRow = admin.getByRole('table', { name: 'Integration tokens' }).getByRole('row').filter({ hasText: 'Reporting export' });
  // Its use shows in the list.
  assert.doesNotMatch(await tokenRow.textContent(), /Never\s*Revoke$/);
  await tokenRow.getByRole('button', { name: 'Revoke' }).click();
  await admin.getByRole('dialog', { name: 'Revoke the token Reporting export?' }).getByRole('button', { name: 'Revoke token' }).click();
  await admin.getByRole('status').filter({ hasText: 'was revoked' }).waitFor();
  assert.equal((await readWithToken(srv, token)).status, 401);

  // ---- Neither an agent nor a supervisor sees the console, even by typing its route.
  assert.equal(await nina.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Admin' }).count(), 0);
  await nina.evaluate(() => { location.hash = '#/admin'; });
  await nina.waitForURL((u) => u.hash === '#/desk');
  await nina.getByRole('navigation', { name: 'Interactions' }).waitFor();
  assert.equal(await menu(nina).count(), 0);
  await adminApi(srv, 'POST', '/api/v1/agents', { username: 'sue', password: srv.agent_password, display_name: 'Sue Supervisor', role: 'supervisor' });
  await sue.goto(`${srv.base}/#/admin`);
  await sue.getByLabel('Username').fill('sue');
  await sue.getByLabel('Password').fill(srv.agent_password);
  await sue.getByRole('button', { name: 'Log in' }).click();
  await sue.getByRole('button', { name: 'Log out' }).waitFor();
  await sue.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Board' }).waitFor();
  assert.equal(await sue.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Admin' }).count(), 0);
  assert.equal(await menu(sue).count(), 0);
  assert.equal(new URL(sue.url()).hash, '#/desk');
});

desktopTest('the console pages and searches lists, shows the API\'s refusals beside the field, asks before deleting', ['admin'], async ({ srv, pages: { admin } }) => {
  for (let i = 1; i <= 15; i += 1) {
    const n = String(i).padStart(2, '0');
    await adminApi(srv, 'POST', '/api/v1/agents', { username: `temp${n}`, password: srv.agent_password, display_name: `Temp Agent ${n}`, role: 'agent' });
  }
  await admin.goto(srv.base);
  await admin.getByLabel('Username').fill('admin');
  await admin.getByLabel('Password').fill(srv.admin_password);
  await admin.getByRole('button', { name: 'Log in' }).click();
  const users = admin.getByRole('table', { name: 'Users' });
  await users.waitFor();

  // 18 users: a page of 15, then the rest; the search narrows the list.
  await admin.getByText('1–15 of 18').waitFor();
  assert.equal(await users.locator('tbody tr:visible').count(), 15);
  await admin.getByRole('button', { name: 'Next ›' }).click();
  await admin.getByText('16–18 of 18').waitFor();
  assert.equal(await users.locator('tbody tr:visible').count(), 3);
  await admin.getByRole('searchbox', { name: 'Search users' }).fill('agent 07');
  await admin.getByText('1–1 of 1').waitFor();
  await users.getByRole('button', { name: 'Temp Agent 07' }).click();

  // Deactivating asks first: Cancel keeps the user, the confirmation removes them.
  await admin.getByRole('button', { name: 'Deactivate temp07' }).click();
  const ask = admin.getByRole('dialog', { name: 'Deactivate Temp Agent 07?' });
  await ask.getByRole('button', { name: 'Cancel' }).click();
  await ask.waitFor({ state: 'hidden' });
  assert.ok((await adminApi(srv, 'GET', '/api/v1/agents')).some((u) => u.username === 'temp07'));
  await admin.getByRole('button', { name: 'Deactivate temp07' }).click();
  await ask.getByRole('button', { name: 'Deactivate' }).click();
  await admin.getByRole('status').filter({ hasText: 'temp07 was deactivated.' }).waitFor();
  await admin.getByText('Nothing matches the search.').waitFor();
  assert.ok(!(await adminApi(srv, 'GET', '/api/v1/agents')).some((u) => u.username === 'temp07'));

  // A queue's refused value: the API's words beside the field, nothing changed.
  await openSection(admin, 'Queues');
  await admin.getByRole('table', { name: 'Queues' }).getByRole('button', { name: 'Support' }).click();
  const form = detailForm(admin, 'Queue Support');
  const target = form.getByLabel('Response target (s)');
  const before = await target.inputValue();
  await target.fill('0');
  await form.getByRole('button', { name: 'Save changes' }).click();
  await form.getByText('sla_response_s must be between 1 and 86400').waitFor();
  assert.equal(await target.getAttribute('aria-invalid'), 'true');
  const support = (await adminApi(srv, 'GET', '/api/v1/queues')).find((q) => q.name === 'Support');
  assert.equal(String(support.sla_response_s), before);
  await target.fill('75');
  await form.getByRole('button', { name: 'Save changes' }).click();
  await form.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  assert.equal(await target.getAttribute('aria-invalid'), 'false');

  // Settings: refused beside the field, then saved.
  await openSection(admin, 'Settings');
  const grace = admin.getByLabel('Keep an agent after a lost connection for (s)');
  await grace.fill('100000');
  await admin.getByRole('button', { name: 'Save settings' }).click();
  await admin.getByText('offer_exclusion_s and disconnect_grace_s must be at most 86400').first().waitFor();
  assert.equal(await grace.getAttribute('aria-invalid'), 'true');
  await grace.fill('90');
  await admin.getByRole('button', { name: 'Save settings' }).click();
  await admin.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  assert.equal((await adminApi(srv, 'GET', '/api/v1/settings')).disconnect_grace_s, 90);

  // Break reasons: one more.
  await openSection(admin, 'Break reasons');
  await admin.getByRole('button', { name: '+ Add reason' }).click();
  await admin.getByLabel('Break reason').last().fill('Team huddle');
  await admin.getByRole('button', { name: 'Save reasons' }).click();
  await admin.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  assert.ok((await adminApi(srv, 'GET', '/api/v1/settings')).break_reasons.includes('Team huddle'));

  // A template's variable prefilled from a contact field.
  await openSection(admin, 'Templates');
  await admin.getByRole('table', { name: 'Templates' }).getByRole('button', { name: 'account_notice' }).click();
  await admin.getByLabel('Variable body.first_name').fill('contact.first_name');
  await admin.getByRole('button', { name: 'Save variables' }).click();
  await admin.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  const tpl = (await adminApi(srv, 'GET', '/api/v1/templates')).find((x) => x.name === 'account_notice');
  assert.equal(tpl.variable_map['body.first_name'], 'contact.first_name');

  // System: ready, and the one node is the router.
  await openSection(admin, 'System');
  await admin.getByRole('status').filter({ hasText: /^Ready \((SQLite|PostgreSQL)\)$/ }).waitFor();
  const nodes = admin.getByRole('table', { name: 'Nodes seen in the last minute' });
  const cluster = await adminApi(srv, 'GET', '/api/v1/cluster');
  assert.equal(cluster.nodes.length, 1);
  const row = nodes.getByRole('row', { name: new RegExp(cluster.nodes[0].id) });
  await row.getByRole('cell', { name: 'Router' }).waitFor();
  await admin.getByText('One node: it is the router.').waitFor();
});

/** Types `/shortcut` in the compose box and picks the response with Enter. */
async function insertResponse(page, shortcut) {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.click();
  await box.pressSequentially(`/${shortcut}`);
  const picker = page.getByRole('listbox', { name: 'Standard responses' });
  await picker.getByRole('option', { name: new RegExp(`/${shortcut}`) }).waitFor();
  await box.press('Enter');
  await picker.waitFor({ state: 'hidden' });
}

/** Adds a private note to the selected interaction. */
async function addNote(page, text) {
  const panel = page.getByRole('complementary', { name: 'Details' }).getByRole('region', { name: 'Notes' });
  await panel.getByLabel('Add a private note').fill(text);
  await panel.getByRole('button', { name: 'Add note' }).click();
  await panel.getByRole('list', { name: 'Private notes' }).getByText(text).waitFor();
}

// Real-browser test of the audit log screen: an admin changes a queue and sets an agent's
// status, and somebody fails to log in; the supervisor finds each of them on the audit screen,
// narrows the list to one action family and opens the queue change to see its values before and
// after, the changed field highlighted. Same fixture as desktop.test.mjs; no fixed sleeps.

import assert from 'node:assert/strict';
import { useBrowser, desktopTest, login, adminApi, docShot } from './helpers.mjs';

useBrowser();

const entries = (page) => page.getByRole('table', { name: 'Audit entries' });
const entry = (page, text) => entries(page).getByRole('row').filter({ hasText: text });

desktopTest('the supervisor searches the audit log and sees what a change changed', ['sue'], async ({ srv, pages: { sue } }) => {
  await adminApi(srv, 'POST', '/api/v1/agents', {
    username: 'sue', password: srv.agent_password, display_name: 'Sue Supervisor', role: 'supervisor',
  });
  const queues = await adminApi(srv, 'GET', '/api/v1/queues');
  const sales = queues.find((q) => q.name === 'Sales');
  assert.ok(sales, 'the fixture has a Sales queue');
  assert.notEqual(sales.sla_response_s, 45);
  await adminApi(srv, 'PATCH', `/api/v1/queues/${sales.id}`, { sla_response_s: 45 });
  const agents = await adminApi(srv, 'GET', '/api/v1/agents');
  const bob = agents.find((a) => a.username === 'bob');
  await adminApi(srv, 'PUT', `/api/v1/agents/${bob.id}/presence`, { presence: 'available' });
  const failed = await fetch(`${srv.base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bob', password: 'not his password' }),
  });
  assert.equal(failed.status, 401);

  await login(sue, srv, 'sue');
  await sue.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Audit log' }).click();
  await entries(sue).waitFor();
  // The desk's own workspace gives way to the screen.
  assert.equal(await sue.getByRole('navigation', { name: 'Interactions' }).isVisible(), false);

  // Each of the three, in words, with who did it (nobody known for a failed login).
  const change = entry(sue, 'Queue changed');
  await change.waitFor();
  assert.match(await change.innerText(), /Queue Sales/);
  const status = entry(sue, 'Status changed').filter({ hasText: 'Bob Agent' });
  await status.waitFor();
  const loginFailed = entry(sue, 'Login failed');
  await loginFailed.waitFor();
  assert.match(await loginFailed.innerText(), /System/);
  const admin = agents.find((a) => a.username === 'admin');
  assert.match(await change.innerText(), new RegExp(admin.display_name));
  assert.match(await status.innerText(), new RegExp(admin.display_name));
  // Newest first: Sue's own login, then the failed one, the status and the queue change.
  const order = await entries(sue).locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.children[2].innerText));
  assert.equal(order[0], 'Logged in');
  const at = (a) => order.indexOf(a);
  assert.ok(at('Login failed') < at('Status changed') && at('Status changed') < at('Queue changed'), `newest first: ${order}`);

  // One action family: the queues' entries only.
  const listed = sue.waitForResponse((r) => r.url().includes('/api/v1/audit?') && r.url().includes('action=queue.'));
  await sue.getByLabel('Action', { exact: true }).selectOption({ label: 'Queues: all' });
  assert.ok((await listed).ok());
  await loginFailed.waitFor({ state: 'detached' });
  await status.waitFor({ state: 'detached' });
  await change.waitFor();
  const actions = await entries(sue).locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.children[2].innerText));
  assert.ok(actions.length >= 3, `the queue change and the fixture's two new queues: ${actions}`);
  assert.ok(actions.every((a) => a.startsWith('Queue ')), `only queue entries: ${actions}`);

  // The queue change, before and after side by side: only the response target changed.
  await change.getByRole('button', { name: 'Queue changed' }).click();
  const detail = sue.getByRole('complementary', { name: 'Entry details' });
  await detail.getByRole('heading', { name: 'Queue changed: Queue Sales' }).waitFor();
  const diff = detail.getByRole('table', { name: /Queue changed/ });
  const heads = await diff.locator('thead th').allInnerTexts();
  assert.deepEqual(heads, ['Field', 'Before', 'After']);
  const target = diff.getByRole('row', { name: /Response target/ });
  assert.deepEqual(await target.locator('td').allInnerTexts(), [String(sales.sla_response_s ?? '—'), '45']);
  assert.match(await target.getAttribute('class'), /changed/);
  const changed = await diff.locator('tbody tr.changed th').allInnerTexts();
  assert.deepEqual(changed.map((t) => t.replace(/\s*\(changed\)$/, '')), ['Response target (s)']);
  const nameRow = diff.getByRole('row', { name: /^Name/ });
  assert.deepEqual(await nameRow.locator('td').allInnerTexts(), ['Sales', 'Sales']);
  await docShot(sue, 'audit');

  // A filter with nothing to show says so; clearing the filters lists everything again.
  await sue.getByLabel('Target id', { exact: true }).fill('no-such-target');
  await sue.getByRole('button', { name: 'Search' }).click();
  await sue.getByText('No entries match these filters.').waitFor();
  await sue.getByRole('button', { name: 'Clear' }).click();
  await loginFailed.waitFor();
  // One actor (picked among the users): Sue's own login only.
  await sue.getByLabel('Actor', { exact: true }).selectOption({ label: 'Sue Supervisor (sue)' });
  await loginFailed.waitFor({ state: 'detached' });
  const mine = await entries(sue).locator('tbody tr').evaluateAll((rows) => rows.map((r) => `${r.children[1].innerText} ${r.children[2].innerText}`));
  assert.deepEqual(mine, ['Sue Supervisor Logged in']);
  await sue.getByLabel('Actor', { exact: true }).selectOption({ label: 'Anyone' });
  await loginFailed.waitFor();
  // A time range: nothing from a future day on, everything up to it.
  await sue.getByLabel('From', { exact: true }).fill('2099-01-01T00:00:00');
  await sue.getByText('No entries match these filters.').waitFor();
  await sue.getByLabel('From', { exact: true }).fill('');
  const upTo = sue.waitForResponse((r) => r.url().includes('/api/v1/audit?') && /[?&]to=2099-/.test(r.url()) && !r.url().includes('from='));
  await sue.getByLabel('To', { exact: true }).fill('2099-01-01T00:00:00');
  assert.ok((await upTo).ok());
  await loginFailed.waitFor();
  await change.waitFor();
});

/** `count` changes of the queue `name`'s response target, as the admin (one session). */
async function changeQueueOften(srv, name, count) {
  const r = await fetch(`${srv.base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: srv.admin_password }),
  });
  const { token } = await r.json();
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const queues = await (await fetch(`${srv.base}/api/v1/queues`, { headers })).json();
  const q = queues.find((x) => x.name === name);
  for (let i = 1; i <= count; i += 1) {
    const resp = await fetch(`${srv.base}/api/v1/queues/${q.id}`, { method: 'PATCH', headers, body: JSON.stringify({ sla_response_s: 100 + i }) });
    assert.ok(resp.ok, `PATCH answered ${resp.status}`);
  }
}

desktopTest('the audit screen pages to older entries and shows the API\'s own words when it refuses', ['sue'], async ({ srv, pages: { sue } }) => {
  await adminApi(srv, 'POST', '/api/v1/agents', {
    username: 'sue', password: srv.agent_password, display_name: 'Sue Supervisor', role: 'supervisor',
  });
  await changeQueueOften(srv, 'Support', 60);
  await login(sue, srv, 'sue');
  await sue.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Audit log' }).click();
  await entries(sue).waitFor();

  // A page of 50; the queues' creation is older and comes with "Load older", after the rest.
  await sue.getByRole('status').filter({ hasText: '50 entries, more older' }).waitFor();
  assert.equal(await entries(sue).locator('tbody tr').count(), 50);
  assert.equal(await entry(sue, 'Queue created').count(), 0);
  await sue.getByRole('button', { name: 'Load older' }).click();
  await entry(sue, 'Queue created').first().waitFor();
  await sue.getByRole('button', { name: 'Load older' }).waitFor({ state: 'hidden' });
  const rows = await entries(sue).locator('tbody tr').evaluateAll((r) => r.map((x) => x.children[2].innerText));
  assert.ok(rows.length > 60, `both pages: ${rows.length}`);
  assert.equal(new Set(await entries(sue).locator('tbody tr').evaluateAll((r) => r.map((x) => x.dataset.id))).size, rows.length, 'no entry twice');
  assert.equal(rows.filter((a) => a === 'Queue changed').length, 60);
  assert.ok(rows.lastIndexOf('Queue changed') < rows.indexOf('Queue created'), 'older entries below');

  // A from time the server cannot read (typed into the field as text) is refused in its words.
  await sue.getByLabel('From', { exact: true }).evaluate((input) => { input.type = 'text'; });
  await sue.getByLabel('From', { exact: true }).fill('yesterday');
  await sue.getByRole('button', { name: 'Search' }).click();
  await sue.getByRole('alert').filter({ hasText: 'from must be an RFC 3339 time such as 2026-01-31T08:00:00Z' }).waitFor();
});

desktopTest('the audit log is live: new entries the filters list appear on top without searching again', ['sue'], async ({ srv, pages: { sue } }) => {
  await adminApi(srv, 'POST', '/api/v1/agents', {
    username: 'sue', password: srv.agent_password, display_name: 'Sue Supervisor', role: 'supervisor',
  });
  const sales = (await adminApi(srv, 'GET', '/api/v1/queues')).find((q) => q.name === 'Sales');
  await login(sue, srv, 'sue');
  await sue.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Audit log' }).click();
  await entries(sue).waitFor();
  const listed = sue.waitForResponse((r) => r.url().includes('/api/v1/audit?') && r.url().includes('action=queue.'));
  await sue.getByLabel('Action', { exact: true }).selectOption({ label: 'Queues: all' });
  const before = (await (await listed).json()).items.length;
  await entry(sue, 'Login failed').waitFor({ state: 'detached' });
  await sue.getByRole('status').filter({ hasText: new RegExp(`^${before} entr`) }).waitFor();
  // From here on the screen asks the API for nothing: what appears came live.
  let asked = 0;
  sue.on('request', (r) => { if (r.url().includes('/api/v1/audit')) asked += 1; });

  await adminApi(srv, 'PATCH', `/api/v1/queues/${sales.id}`, { sla_response_s: 50 });
  await entry(sue, 'Queue changed').waitFor();
  // A failed login is not a queue's entry: it stays out. The next queue change goes on top.
  const failed = await fetch(`${srv.base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bob', password: 'not his password' }),
  });
  assert.equal(failed.status, 401);
  await adminApi(srv, 'POST', '/api/v1/queues', { name: 'Returns' });
  const created = entry(sue, 'Queue created').filter({ hasText: 'Returns' });
  await created.waitFor();
  assert.match(await created.innerText(), /Queue Returns/);
  const order = await entries(sue).locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.children[2].innerText));
  assert.deepEqual(order.slice(0, 2), ['Queue created', 'Queue changed']);
  assert.equal(order.length, before + 2);
  assert.ok(!order.includes('Login failed'), `${order}`);
  await sue.getByRole('status').filter({ hasText: new RegExp(`^${before + 2} entries`) }).waitFor();
  assert.equal(asked, 0, 'no search was needed');
  // The live entry opens like any other, its values before and after.
  await created.getByRole('button', { name: 'Queue created' }).click();
  await sue.getByRole('complementary', { name: 'Entry details' }).getByText('Returns').first().waitFor();
});

// Real-browser test of the supervisor's board: a supervisor and two agents; the board
// follows presence, offers, accepts and wrap-ups live, and the supervisor sets an agent offline
// from it. Same fixture as desktop.test.mjs; no fixed sleeps.

import assert from 'node:assert/strict';
import {
  useBrowser, desktopTest, login, setStatus, customerWrites, adminApi, acceptOffer, endAndWrapUp, docShot, sendText,
} from './helpers.mjs';

useBrowser();

const agentRow = (page, name) => page.getByRole('table', { name: 'Agents' }).getByRole('row', { name: new RegExp(name) });
const queueRow = (page, name) => page.getByRole('table', { name: 'Queues' }).getByRole('row', { name: new RegExp(name) });

/**
 * Waits until the row `name` of the table `table` shows `want` ({column header: text, or
 * "re:PATTERN"}): the board changes from live events, so this waits for the page, not a time.
 */
async function rowShows(page, table, name, want) {
  try {
    await page.waitForFunction(([table, name, want]) => {
      const t = [...document.querySelectorAll('table')].find((x) => x.querySelector('caption')?.textContent === table);
      if (!t) return false;
      const heads = [...t.querySelectorAll('thead th')].map((th) => th.innerText.replace(/ [▲▼]$/, ''));
      const row = [...t.querySelectorAll('tbody tr')].find((r) => r.querySelector('th').innerText.includes(name));
      if (!row) return false;
      const vals = [...row.querySelectorAll('th, td')].map((c) => c.innerText.trim());
      return Object.entries(want).every(([h, v]) => {
        const k = heads.indexOf(h);
        return k >= 0 && (v.startsWith('re:') ? new RegExp(v.slice(3)).test(vals[k]) : vals[k] === v);
      });
    }, [table, name, want], { timeout: 15_000 });
  } catch (e) {
    const now = await page.getByRole('table', { name: table }).innerText().catch(() => '?');
    throw new Error(`wanted ${name} ${JSON.stringify(want)}; the table shows:\n${now}\n${e.message}`);
  }
}

desktopTest('the board follows the floor live and sets an agent offline', ['sue', 'ann', 'bob'], async ({ srv, pages: { sue, ann, bob } }) => {
  await adminApi(srv, 'POST', '/api/v1/agents', {
    username: 'sue', password: srv.agent_password, display_name: 'Sue Supervisor', role: 'supervisor',
  });
  await login(sue, srv, 'sue');
  await sue.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Board' }).click();
  await sue.getByRole('table', { name: 'Agents' }).waitFor();
  await rowShows(sue, 'Agents', 'Ann Agent', { Status: 'Offline' });

  await login(ann, srv, 'ann');
  await login(bob, srv, 'bob');
  await setStatus(ann, 'Available');
  await setStatus(bob, 'Available');
  await rowShows(sue, 'Agents', 'Ann Agent', { Status: 'Available', Activity: 'Idle' });
  await rowShows(sue, 'Agents', 'Bob Agent', { Status: 'Available' });
  await rowShows(sue, 'Queues', 'Support', { Waiting: '0', 'Available agents': '2' });

  // A customer writes: offered to one of them; accepted; the board shows the work and today's figures.
  await customerWrites(srv, '4917000000001', 'Mia Customer', 'My order is late');
  const agentPage = await Promise.race([
    ann.getByRole('article', { name: /Mia Customer/ }).waitFor().then(() => ann),
    bob.getByRole('article', { name: /Mia Customer/ }).waitFor().then(() => bob),
  ]);
  const name = agentPage === ann ? 'Ann Agent' : 'Bob Agent';
  await acceptOffer(agentPage, 'Mia Customer', 'My order is late');
  await rowShows(sue, 'Agents', name, { Activity: 'Handling', Load: 're:^1 / \\d' });
  await rowShows(sue, 'Queues', 'Support', { Offered: '1', Accepted: '1', Missed: '0', Handled: '0' });
  await rowShows(sue, 'Agents', name, { Interactions: 'Mia Customer' });
  await docShot(sue, 'board');
  // From the board, the live chat opens read-only (silent watch); back to the board after.
  await sue.getByRole('button', { name: `Watch Mia Customer with ${name}` }).click();
  await sue.getByText('Watching — the agent does not see you.').waitFor();
  await sue.getByText('My order is late').waitFor();
  await sue.getByRole('button', { name: 'Stop watching' }).click();
  await sue.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Board' }).click();
  await sue.getByRole('table', { name: 'Agents' }).waitFor();

  await sendText(agentPage, 'Sorry about that, checking now');
  await endAndWrapUp(agentPage, 'Mia Customer');
  await rowShows(sue, 'Agents', name, { Activity: 'Idle', Load: 're:^0 / ' });
  await rowShows(sue, 'Queues', 'Support', { Offered: '1', Accepted: '1', Missed: '0', Handled: '1', 'SLA met': '100 %' });

  // A customer waits while nobody can take them: the queue is flagged.
  await setStatus(ann, 'Offline');
  await sue.getByLabel('Set status of Bob Agent').selectOption('offline');
  await rowShows(sue, 'Agents', 'Bob Agent', { Status: 'Offline' });
  await bob.getByRole('status').filter({ hasText: 'Your status was set to Offline by Sue Supervisor.' }).waitFor();
  await customerWrites(srv, '4917000000002', 'Noah Customer', 'Hello?');
  await rowShows(sue, 'Queues', 'Support', { Waiting: '1', 'Longest wait': 're:^\\d+:\\d\\d$', 'Available agents': '0' });
  assert.equal(await queueRow(sue, 'Support').locator('.cell-bad').count(), 1, 'no available agent is flagged');
  const tiles = await sue.getByRole('status', { name: 'Floor summary' }).innerText();
  assert.match(tiles, /1\s*Waiting/);

  // Sorting by a column, and filtering agents by name.
  await sue.getByRole('table', { name: 'Agents' }).getByRole('button', { name: /Status/ }).click();
  await sue.getByLabel('Agent', { exact: true }).fill('bob');
  await agentRow(sue, 'Ann Agent').waitFor({ state: 'detached' });
  await sue.getByLabel('Agent', { exact: true }).fill('');
  await agentRow(sue, 'Ann Agent').waitFor();
});

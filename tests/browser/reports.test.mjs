// Real-browser test of the reports screen: after two handled chats and one missed offer,
// a supervisor opens Reports: the volume chart draws bars with those counts, the table says the
// same, a figure lists the interactions behind it and one opens in playback, an agent's row opens
// their presence timeline, and the downloaded CSV parses and matches the table.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  useBrowser, desktopTest, login, setStatus, customerWrites, adminApi, acceptOffer, sendText, endAndWrapUp,
  advanceClock, docShot, offerCard,
} from './helpers.mjs';

useBrowser();

/** RFC 4180 records of a CSV text. */
function parseCsv(text) {
  const out = [];
  let rec = [];
  let f = '';
  let q = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { f += '"'; i += 1; } else if (c === '"') q = false; else f += c;
    } else if (c === '"') q = true;
    else if (c === ',') { rec.push(f); f = ''; } else if (c === '\r' && text[i + 1] === '\n') { rec.push(f); out.push(rec); rec = []; f = ''; i += 1; } else f += c;
  }
  return out;
}

/** The sum of the values of the volume chart's bars of one series. */
const barSum = (page, series) => page.locator(`figure:has(figcaption:text-is("Volume by hour")) rect.bar[data-series="${series}"]`)
  .evaluateAll((rects) => rects.reduce((a, r) => a + Number(r.dataset.value), 0));

desktopTest('reports chart, table, drill-down to playback and CSV agree', ['ann', 'sue'], async ({ srv, pages: { ann, sue } }) => {
  await adminApi(srv, 'POST', '/api/v1/agents', {
    username: 'sue', password: srv.agent_password, display_name: 'Sue Supervisor', role: 'supervisor',
  });
  await login(ann, srv, 'ann');
  await login(sue, srv, 'sue');
  await setStatus(ann, 'Available');

  // Two chats handled, one offer missed.
  for (const [wa, name, text] of [['4917000000101', 'Mia Customer', 'Where is my order?'], ['4917000000102', 'Noah Customer', 'I need an invoice']]) {
    await customerWrites(srv, wa, name, text);
    await acceptOffer(ann, name, text);
    await sendText(ann, `Hello ${name.split(' ')[0]}, let me check`);
    await advanceClock(srv, 5);
    await endAndWrapUp(ann, name);
  }
  await customerWrites(srv, '4917000000103', 'Olga Customer', 'Hello?');
  await offerCard(ann, 'Olga Customer').waitFor();
  await advanceClock(srv, 31);
  await ann.getByRole('alert').filter({ hasText: 'RONA — you missed an offer.' }).waitFor();

  // The screen: today, by queue.
  await sue.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Reports' }).click();
  const screen = sue.getByRole('region', { name: 'Reports' });
  await screen.getByText(/Days and hours in /).waitFor();
  // The desk's workspace is out of the way while the screen shows.
  assert.equal(await sue.getByRole('navigation', { name: 'Interactions', exact: true }).count(), 0);
  const table = screen.getByRole('table', { name: 'Report figures' });
  const support = table.locator('tbody tr').filter({ hasText: 'Support' });
  await support.getByRole('button', { name: /offered: 3\./ }).waitFor();
  assert.equal(await barSum(sue, 'Offered'), 3);
  assert.equal(await barSum(sue, 'Handled'), 2);
  assert.equal(await barSum(sue, 'Missed'), 1);
  // Every figure says what it means.
  const offeredHead = table.getByRole('button', { name: 'Offered', exact: true });
  assert.match(await offeredHead.getAttribute('title'), /Inbound interactions that arrived/);
  assert.equal(await support.getByRole('button', { name: /handled: 2\./ }).textContent(), '2');
  assert.equal(await support.getByRole('button', { name: /missed: 1\./ }).textContent(), '1');
  await docShot(sue, 'reports');

  // A bar lists its interactions; so does a table cell; one opens in playback.
  await sue.locator('figure:has(figcaption:text-is("Volume by hour")) rect.bar[data-series="Missed"][data-value="1"]').click();
  const drill = screen.getByRole('region', { name: 'Interactions behind a figure' });
  await drill.getByRole('cell', { name: 'Olga Customer' }).waitFor();
  assert.equal(await drill.locator('tbody tr').count(), 1);
  await support.getByRole('button', { name: /handled: 2\./ }).click();
  await drill.getByRole('heading', { name: /Support — Handled/ }).waitFor();
  await drill.getByRole('cell', { name: 'Mia Customer' }).waitFor();
  assert.equal(await drill.locator('tbody tr').count(), 2);
  await docShot(sue, 'reports-drilldown');
  await drill.locator('tbody tr').filter({ hasText: 'Mia Customer' }).getByRole('link', { name: 'Play' }).click();
  await sue.waitForURL(/#\/playback\?id=/);
  await sue.getByRole('heading', { name: /Mia Customer/ }).waitFor();
  await sue.getByRole('list', { name: 'Jump to a message' }).getByRole('button', { name: /Where is my order\?/ }).waitFor();

  // By agent: Ann's row opens her presence over the day, which adds up to it.
  await sue.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Reports' }).click();
  await screen.getByLabel('Group by', { exact: true }).selectOption('agent');
  const annRow = table.locator('tbody tr').filter({ hasText: 'Ann Agent' });
  await annRow.getByRole('button', { name: /offered: 3\./ }).waitFor();
  await annRow.getByRole('button', { name: 'Timeline' }).click();
  const timeline = screen.getByRole('region', { name: 'Agent timeline' });
  await timeline.getByRole('heading', { name: 'Ann Agent: presence' }).waitFor();
  const segments = timeline.getByRole('group', { name: /presence over the range/ }).getByRole('img');
  assert.ok(await segments.count() >= 3, 'offline, available and RONA at least');
  await timeline.getByText(/Missed offer \(RONA\): /).waitFor();
  await screen.getByLabel('Group by', { exact: true }).selectOption('queue');

  // Over the last 7 days the charts go by day: seven bars per series, today's with the counts.
  await screen.getByLabel('Range', { exact: true }).selectOption('7');
  const byDay = sue.locator('figure:has(figcaption:text-is("Volume by day")) rect.bar[data-series="Offered"]');
  await byDay.nth(6).waitFor();
  assert.equal(await byDay.count(), 7);
  assert.equal(await byDay.nth(6).getAttribute('data-value'), '3');
  await screen.getByLabel('Range', { exact: true }).selectOption('today');

  // The CSV of the table, downloaded, says what the table says.
  await support.getByRole('button', { name: /offered: 3\./ }).waitFor();
  const [download] = await Promise.all([
    sue.waitForEvent('download'),
    screen.getByRole('button', { name: 'Download CSV', exact: true }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^switchboard-summary-by-queue-.*\.csv$/);
  const rows = parseCsv(await readFile(await download.path(), 'utf8'));
  const head = rows[0];
  const col = (name) => head.indexOf(name);
  const line = rows.find((r) => r[col('label')] === 'Support');
  assert.ok(line, JSON.stringify(rows));
  assert.deepEqual(['offered', 'accepted', 'missed', 'handled'].map((k) => Number(line[col(k)])), [3, 2, 1, 2]);
  assert.equal(rows[rows.length - 1][0], 'total');
  assert.equal(Number(line[col('disposition:solved')]), 2);
  for (const k of ['offered', 'accepted', 'missed', 'rejected', 'handled', 'transferred']) {
    const cell = await support.getByRole('button', { name: new RegExp(`, ${k}: `) }).textContent();
    assert.equal(cell, line[col(k)], k);
  }
});

// Real-browser test of playback: an agent handles a chat while the server's clock moves
// between messages, a supervisor whispers, the agent leaves a note, ends and wraps up; the
// supervisor finds the interaction on the Playback screen and plays it at 8×. The page records
// when each item appears (performance.now() in a MutationObserver), so the gaps between
// appearances are compared with the original ones, not guessed.

import assert from 'node:assert/strict';
import {
  useBrowser, desktopTest, login, setStatus, customerWrites, adminApi, acceptOffer, sendText, endAndWrapUp,
  advanceClock, pageApi, docShot, offerCard,
} from './helpers.mjs';

useBrowser();

const player = (page) => page.getByRole('list', { name: 'Played transcript' });

/** Starts recording, in the page, each item added to the played transcript: when, its time, its text. */
async function record(page) {
  await page.evaluate(() => {
    const ol = document.getElementById('pb-transcript');
    window.pbSeen = [];
    window.pbObserver?.disconnect();
    window.pbObserver = new MutationObserver((records) => {
      const at = performance.now();
      for (const r of records) {
        for (const n of r.addedNodes) {
          if (n.nodeType !== 1 || !n.dataset.playback) continue;
          window.pbSeen.push({ at, created: n.querySelector('time')?.getAttribute('datetime'), text: n.innerText });
        }
      }
    });
    window.pbObserver.observe(ol, { childList: true });
  });
}

const seen = (page) => page.evaluate(() => window.pbSeen);

desktopTest('a supervisor plays an ended chat back with its original timing', ['ann', 'sue'], async ({ srv, pages: { ann, sue } }) => {
  await adminApi(srv, 'POST', '/api/v1/agents', {
    username: 'sue', password: srv.agent_password, display_name: 'Sue Supervisor', role: 'supervisor',
  });
  await login(ann, srv, 'ann');
  await login(sue, srv, 'sue');
  await setStatus(ann, 'Available');

  // The chat: 8 s, 16 s and 8 s between what was written, then the note 2 minutes later.
  await customerWrites(srv, '4917000000009', 'Lea Customer', 'My parcel never came');
  await acceptOffer(ann, 'Lea Customer', 'My parcel never came');
  const { data: list } = await pageApi(ann, 'GET', '/api/v1/interactions');
  const id = list[0].id;
  await advanceClock(srv, 8);
  await sendText(ann, 'Sorry to hear that, let me check');
  await advanceClock(srv, 16);
  const whisper = await pageApi(sue, 'POST', `/api/v1/interactions/${id}/whisper`, { text: 'Offer a voucher' });
  assert.equal(whisper.status, 201, JSON.stringify(whisper.data));
  await ann.getByText('Offer a voucher').waitFor();
  await advanceClock(srv, 8);
  await sendText(ann, 'Here is a 10 % voucher for the wait');
  await advanceClock(srv, 120);
  const note = await pageApi(ann, 'POST', `/api/v1/interactions/${id}/notes`, { text: 'Voucher given' });
  assert.equal(note.status, 201, JSON.stringify(note.data));
  await endAndWrapUp(ann, 'Lea Customer');

  // The supervisor finds it by the customer's number.
  await sue.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Playback' }).click();
  const search = sue.getByRole('search', { name: 'Find ended interactions' });
  await search.getByLabel('Customer number').fill('+49 1700 0000009');
  await search.getByRole('button', { name: 'Search' }).click();
  const results = sue.getByRole('navigation', { name: 'Ended interactions' });
  await results.getByRole('button', { name: /Lea Customer/ }).click();
  await sue.getByRole('heading', { name: /Lea Customer/ }).waitFor();
  // The desk's workspace is out of the way while the screen shows.
  assert.equal(await sue.getByRole('navigation', { name: 'Interactions', exact: true }).count(), 0);
  const jump = sue.getByRole('list', { name: 'Jump to a message' });
  await jump.getByRole('button', { name: /Voucher given/ }).waitFor();

  // Played at 8×: every item in order, the gaps between appearances an eighth of the original;
  // the 2 minutes before the note (15 s at 8×) are played as 2 s under a "⏩ 2 min later" marker.
  const controls = sue.getByRole('toolbar', { name: 'Playback controls' });
  await controls.getByRole('button', { name: '8×' }).click();
  await record(sue);
  await controls.getByRole('button', { name: 'Play' }).click();
  await player(sue).getByText('Voucher given').waitFor();
  await controls.getByRole('button', { name: 'Play again' }).waitFor();
  const items = await seen(sue);
  const order = ['My parcel never came', 'Sorry to hear that', 'Offer a voucher', 'Here is a 10 % voucher', 'Voucher given'];
  const at = order.map((t) => items.findIndex((x) => x.text.includes(t)));
  assert.ok(at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1])), `in order: ${JSON.stringify(items)}`);
  for (let k = 1; k < order.length; k += 1) {
    const [a, b] = [items[at[k - 1]], items[at[k]]];
    const original = Date.parse(b.created) - Date.parse(a.created);
    const want = original / 8 > 10_000 ? 2_000 : original / 8;
    const got = b.at - a.at;
    assert.ok(want >= 400, `the original gap before "${order[k]}" is ${original} ms`);
    assert.ok(Math.abs(got - want) <= want * 0.2 + 150, `gap before "${order[k]}": ${got.toFixed(0)} ms played, ${want.toFixed(0)} ms wanted`);
  }
  const marker = player(sue).getByRole('note');
  assert.equal(await marker.count(), 1);
  assert.equal(await marker.innerText(), '⏩ 2 min later');
  assert.match(await sue.getByRole('timer', { name: 'Elapsed' }).innerText(), /^Elapsed 2:3\d of 2:3\d$/);

  // Pause stops appearances: paused after the agent's first reply, the whisper (2 s later at 8×)
  // has not appeared 3 s on. Waiting a bounded time is the only way to see that nothing happens.
  await record(sue);
  await controls.getByRole('button', { name: 'Play again' }).click();
  await player(sue).getByText('Sorry to hear that').waitFor();
  await controls.getByRole('button', { name: 'Pause' }).click();
  const shown = (await seen(sue)).length;
  await sue.waitForTimeout(3000);
  assert.equal((await seen(sue)).length, shown, 'nothing appears while paused');
  assert.equal(await player(sue).getByText('Offer a voucher').count(), 0);

  // Jumping shows a message at once, with everything before it, still paused.
  await jump.getByRole('button', { name: /Here is a 10 % voucher/ }).click();
  await player(sue).getByText('Here is a 10 % voucher').waitFor({ timeout: 1000 });
  assert.equal(await player(sue).getByText('Offer a voucher').count(), 1);
  assert.equal(await player(sue).getByText('Voucher given').count(), 0);
  assert.match(await sue.getByRole('timer', { name: 'Elapsed' }).innerText(), /^Elapsed 0:3[0-5] of /);
  await docShot(sue, 'playback');
  // Resumed, the rest follows; Instant shows everything.
  await controls.getByRole('button', { name: 'Resume' }).click();
  await player(sue).getByText('Voucher given').waitFor();
  await controls.getByRole('button', { name: 'Instant' }).click();
  assert.equal(await player(sue).locator('li[data-playback]').count(), items.length);
}, { timeout: 90_000 });

desktopTest('playback results come in pages: Load more shows the next ones, none twice', ['ann', 'sue'], async ({ srv, pages: { ann, sue } }) => {
  await adminApi(srv, 'POST', '/api/v1/agents', {
    username: 'sue', password: srv.agent_password, display_name: 'Sue Supervisor', role: 'supervisor',
  });
  await login(ann, srv, 'ann');
  await login(sue, srv, 'sue');
  await setStatus(ann, 'Available');
  // 52 short chats, each handled to the end (a page is 50).
  const total = 52;
  for (let n = 0; n < total; n += 1) {
    const name = `Pager ${String(n).padStart(2, '0')}`;
    await customerWrites(srv, `49170000${String(1000 + n)}`, name, 'Hi');
    await offerCard(ann, name).waitFor();
    const { data: mine } = await pageApi(ann, 'GET', '/api/v1/interactions?state=offered');
    const id = mine[0].id;
    for (const [action, body] of [['accept'], ['end'], ['wrap-up', { disposition_code: 'solved' }]]) {
      const r = await pageApi(ann, 'POST', `/api/v1/interactions/${id}/${action}`, body);
      assert.ok(r.status < 300, `${action}: ${r.status} ${JSON.stringify(r.data)}`);
    }
    await advanceClock(srv, 11); // past the queue's post processing
  }
  await sue.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Playback' }).click();
  const search = sue.getByRole('search', { name: 'Find ended interactions' });
  await search.getByRole('button', { name: 'Search' }).click();
  const results = sue.getByRole('navigation', { name: 'Ended interactions' });
  const items = results.getByRole('listitem');
  await results.getByRole('status').filter({ hasText: '50 shown, more match' }).waitFor();
  assert.equal(await items.count(), 50);
  // Newest first: the last two chats are on the first page, the first two are not.
  await results.getByRole('button', { name: /Pager 51/ }).waitFor();
  assert.equal(await results.getByRole('button', { name: /Pager 00/ }).count(), 0);
  const more = results.getByRole('button', { name: 'Load more' });
  const next = sue.waitForResponse((r) => /\/api\/v1\/interactions\?/.test(r.url()) && new URL(r.url()).searchParams.has('before'));
  await more.click();
  assert.ok((await next).ok());
  await results.getByRole('status').filter({ hasText: `${total} shown` }).waitFor();
  assert.equal(await items.count(), total);
  await results.getByRole('button', { name: /Pager 00/ }).waitFor();
  await more.waitFor({ state: 'hidden' });
  // Every chat once.
  const names = (await items.allInnerTexts()).map((t) => /Pager \d+/.exec(t)[0]);
  assert.equal(new Set(names).size, total);
});

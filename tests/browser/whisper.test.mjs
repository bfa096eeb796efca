// Real-browser tests of what an agent's desktop shows of a supervisor's actions:
// a whisper appears in the transcript as a whisper (never as a message to the customer), and a
// presence set by a supervisor says who set it. The supervisor acts through the public API.
// Same fixture as desktop.test.mjs; no fixed sleeps.

import assert from 'node:assert/strict';
import {
  useBrowser, desktopTest, login, setStatus, customerWrites, adminApi, transcript, acceptOffer, pageApi,
} from './helpers.mjs';

useBrowser();

/** Creates the supervisor Sue and answers a function calling the API as her. */
async function supervisor(srv) {
  await adminApi(srv, 'POST', '/api/v1/agents', {
    username: 'sue', password: srv.agent_password, display_name: 'Sue Supervisor', role: 'supervisor',
  });
  const login = await fetch(`${srv.base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'sue', password: srv.agent_password }),
  });
  assert.ok(login.ok, `supervisor login answered ${login.status}`);
  const { token } = await login.json();
  return async (method, path, body) => {
    const resp = await fetch(`${srv.base}${path}`, {
      method, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await resp.json();
    assert.ok(resp.ok, `${method} ${path}: ${resp.status} ${JSON.stringify(data)}`);
    return data;
  };
}

desktopTest('a supervisor\'s whisper shows as a whisper; a status set by a supervisor says who', ['ann'], async ({ srv, pages: { ann } }) => {
  await login(ann, srv, 'ann');
  await setStatus(ann, 'Available');
  await customerWrites(srv, '4917012345678', 'Mia Customer', 'Where is my parcel?');
  await acceptOffer(ann, 'Mia Customer', 'Where is my parcel?');
  const sue = await supervisor(srv);
  const { data: list } = await pageApi(ann, 'GET', '/api/v1/interactions');
  const id = list[0].id;

  await sue('POST', `/api/v1/interactions/${id}/whisper`, { text: 'Offer her the express refund' });
  const whisper = transcript(ann).locator('li.msg.whisper').filter({ hasText: 'Offer her the express refund' });
  await whisper.waitFor();
  assert.match(await whisper.innerText(), /Whisper from Sue Supervisor/);
  assert.match(await whisper.innerText(), /Not seen by the customer/);
  // Not drawn as a message to the customer (no delivery ticks, not an outbound bubble).
  assert.equal(await transcript(ann).locator('li.msg.out').filter({ hasText: 'express refund' }).count(), 0);

  await sue('PUT', `/api/v1/agents/${list[0].owner_id}/presence`, { presence: 'offline' });
  const notice = ann.getByRole('status').filter({ hasText: 'Your status was set to Offline by Sue Supervisor.' });
  await notice.waitFor();
  assert.equal(await ann.getByLabel('Status', { exact: true }).inputValue(), 'offline');
  await notice.getByRole('button', { name: 'Dismiss' }).click();
  await notice.waitFor({ state: 'hidden' });

  // The next change by the supervisor shows again; her own change takes the notice away.
  await sue('PUT', `/api/v1/agents/${list[0].owner_id}/presence`, { presence: 'available' });
  const again = ann.getByRole('status').filter({ hasText: 'Your status was set to Available by Sue Supervisor.' });
  await again.waitFor();
  await setStatus(ann, 'Offline');
  await again.waitFor({ state: 'hidden' });
});

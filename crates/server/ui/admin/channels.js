// WhatsApp channels: connect a number to a queue, edit it (secrets are write-only: blank keeps
// them), the webhook URL and verify token to paste into Meta's app with Copy buttons, "Check
// connection" against the Graph API, the last webhook received and the last send error.
import { api } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { buttons, copyButton, dangerZone, field, input, listView, notice, onSubmit, select, split, when } from './kit.js';

export const label = 'Channels';

export async function render(box, C) {
  const detail = el('div', { class: 'adm-detail' });
  let channels = await api('GET', '/api/v1/channels');
  const list = listView({
    caption: 'Channels',
    text: (c) => `${c.display_phone_number} ${c.phone_number_id} ${C.queueName(c.queue_id)}`,
    tools: [el('button', { type: 'button', class: 'primary', onclick: () => edit(null) }, '+ Connect a number')],
    emptyText: 'No WhatsApp number is connected yet.',
    columns: [
      { key: 'number', label: 'Number', value: (c) => c.display_phone_number, cell: (c) => el('button', { type: 'button', class: 'link', onclick: () => edit(c) }, c.display_phone_number) },
      { key: 'queue', label: 'Queue', value: (c) => C.queueName(c.queue_id) },
      { key: 'webhook', label: 'Last webhook', value: (c) => c.last_webhook_at, cell: (c) => when(c.last_webhook_at, 'None since start') },
      { key: 'error', label: 'Last send error', value: (c) => (c.last_send_error ? c.last_send_error.at : null),
        cell: (c) => (c.last_send_error ? el('span', { class: 'bad', title: c.last_send_error.message }, when(c.last_send_error.at)) : el('span', { class: 'muted' }, 'None')) },
    ],
  });
  const reload = async () => { channels = await api('GET', '/api/v1/channels'); list.render(channels); };

  /** The webhook setup, the connection check and the traffic of a saved channel. */
  async function operations(c) {
    const hook = await api('GET', `/api/v1/channels/${c.id}/webhook`);
    const result = el('p', { class: 'check-result', role: 'status' });
    const check = el('button', { type: 'button', onclick: async () => {
      check.disabled = true;
      result.className = 'check-result';
      result.textContent = 'Checking…';
      try {
        const r = await api('POST', `/api/v1/channels/${c.id}/check`);
        result.className = `check-result ${r.ok ? 'good' : 'bad'}`;
        result.textContent = r.ok
          ? `Connected: ${r.phone_number.verified_name || 'the number'} ${r.phone_number.display_phone_number || ''}${r.phone_number.quality_rating ? `, quality ${r.phone_number.quality_rating}` : ''}.`
          : `WhatsApp refused: ${r.error}`;
      } catch (e) {
        result.className = 'check-result bad';
        result.textContent = e.message;
      } finally { check.disabled = false; }
    } }, 'Check connection');
    const copyRow = (labelText, id, value) => el('div', { class: 'copy-row' },
      el('label', { for: id }, labelText),
      el('input', { id, value, readonly: true, onfocus: (ev) => ev.target.select() }),
      copyButton(() => value));
    const err = c.last_send_error;
    return el('div', { class: 'adm-form card', role: 'group', 'aria-label': 'Connection' },
      el('h3', null, 'Connection'),
      el('p', { class: 'muted' }, "In the Meta app's WhatsApp › Configuration, set the callback URL and verify token below, and subscribe to the messages field."),
      copyRow('Webhook URL', 'chan-webhook-url', hook.url),
      copyRow('Verify token', 'chan-verify-token', hook.verify_token),
      el('div', { class: 'form-buttons' }, check),
      result,
      el('dl', { class: 'facts' },
        el('dt', null, 'Last webhook received'), el('dd', null, when(c.last_webhook_at, 'None since the server started')),
        el('dt', null, 'Last send error'), el('dd', null, err ? el('span', null, el('span', { class: 'bad' }, err.message), ` (${when(err.at)})`) : 'None')));
  }

  async function edit(c) {
    const isNew = !c;
    const secret = (name) => input({ type: 'password', autocomplete: 'new-password', placeholder: isNew ? '' : 'Leave blank to keep', 'data-secret': name });
    const f = {
      display_phone_number: input({ value: isNew ? '' : c.display_phone_number, placeholder: 'e.g. +49 30 1234567' }),
      phone_number_id: input({ value: isNew ? '' : c.phone_number_id, disabled: !isNew }),
      waba_id: input({ value: isNew ? '' : c.waba_id || '' }),
      queue_id: select(C.queues.map((q) => [q.id, q.name]), isNew ? undefined : c.queue_id),
      access_token: secret('access_token'),
      app_secret: secret('app_secret'),
      verify_token: secret('verify_token'),
    };
    const setHint = (name) => (isNew ? null : c[`${name}_set`] ? 'Set. Write-only: type a new one to replace it.' : 'Not set.');
    const form = el('form', { class: 'adm-form card', 'aria-label': isNew ? 'Connect a number' : `Channel ${c.display_phone_number}` },
      el('h3', null, isNew ? 'Connect a WhatsApp number' : c.display_phone_number),
      el('div', { class: 'form-grid' },
        field('Phone number', f.display_phone_number, { name: 'display_phone_number', hint: 'As customers see it.' }),
        field('Phone number id', f.phone_number_id, { name: 'phone_number_id', hint: isNew ? "From the Meta app's API setup." : 'Cannot be changed.' }),
        field('WhatsApp business account id', f.waba_id, { name: 'waba_id', hint: 'Needed for templates.' }),
        field('Queue', f.queue_id, { name: 'queue_id', hint: 'New conversations of this number go here.' }),
        field('Access token', f.access_token, { name: 'access_token', hint: setHint('access_token') }),
        field('App secret', f.app_secret, { name: 'app_secret', hint: setHint('app_secret') || 'Webhooks are signed with it.' }),
        field('Verify token', f.verify_token, { name: 'verify_token', hint: isNew ? 'Any text; Meta sends it back once when you save the webhook.' : 'Shown under Connection; type a new one to replace it.' })),
      buttons([isNew ? 'Connect number' : 'Save changes', { type: 'submit', primary: true }], ['Cancel', { onclick: () => detail.replaceChildren() }]));
    onSubmit(form, async () => {
      const body = { display_phone_number: f.display_phone_number.value.trim(), queue_id: f.queue_id.value };
      const waba = f.waba_id.value.trim();
      if (waba || !isNew) body.waba_id = waba || undefined;
      for (const k of ['access_token', 'app_secret', 'verify_token']) if (f[k].value || isNew) body[k] = f[k].value;
      let saved;
      if (isNew) saved = await api('POST', '/api/v1/channels', { kind: 'whatsapp', phone_number_id: f.phone_number_id.value.trim(), ...body });
      else saved = await api('PATCH', `/api/v1/channels/${c.id}`, body);
      await reload();
      await edit(saved);
      notice(detail, isNew ? `${saved.display_phone_number} connected.` : 'Saved.');
      return '';
    });
    const nodes = [form];
    if (!isNew) {
      // What the admin came for first: the setup to paste into Meta's app and the check.
      nodes.unshift(await operations(c));
      nodes.push(dangerZone({
        title: 'Disconnect',
        text: 'Messages to this number are no longer taken; unsent replies fail.',
        button: `Disconnect ${c.display_phone_number}`,
        ask: [`Disconnect ${c.display_phone_number}?`, 'Customers writing to this number reach nobody until it is connected again.', 'Disconnect'],
        path: `/api/v1/channels/${c.id}`, detail, done: `${c.display_phone_number} was disconnected.`, after: reload,
      }));
    }
    detail.replaceChildren(...nodes);
    // Keep a status line written by the submit handler of the form replaced.
    if (isNew) f.display_phone_number.focus();
  }

  box.append(split(list.node, detail));
  list.render(channels);
}

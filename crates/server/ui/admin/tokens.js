// Integration tokens: named, for a user, optional expiry; the token is shown once (copy
// it then), only its hash is stored; revoking asks first and takes effect at once.
import { api } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { buttons, confirmAction, copyButton, day, field, input, intOf, listView, number, onSubmit, select, split, when } from './kit.js';

export const label = 'Integration tokens';

export async function render(box, C) {
  const detail = el('div', { class: 'adm-detail' });
  const list = listView({
    caption: 'Integration tokens',
    text: (t) => `${t.name} ${C.userName(t.user_id)}`,
    tools: [el('button', { type: 'button', class: 'primary', onclick: () => create() }, '+ New token')],
    emptyText: 'No integration tokens yet.',
    columns: [
      { key: 'name', label: 'Name', value: (t) => t.name },
      { key: 'user', label: 'Acts as', value: (t) => t.user_name || C.userName(t.user_id) },
      { key: 'created', label: 'Created', value: (t) => t.created_at, cell: (t) => day(t.created_at) },
      { key: 'expires', label: 'Expires', value: (t) => t.expires_at, cell: (t) => (t.expired ? el('span', { class: 'bad' }, ['Expired ', day(t.expires_at)]) : day(t.expires_at, 'Never')) },
      { key: 'used', label: 'Last used', value: (t) => t.last_used_at, cell: (t) => (t.last_used_at ? el('span', { title: when(t.last_used_at) }, when(t.last_used_at)) : 'Never') },
      { key: 'revoke', label: 'Actions', value: () => '', cell: (t) => el('button', { type: 'button', class: 'danger', onclick: () => revoke(t) }, 'Revoke') },
    ],
  });
  const reload = async () => list.render(await api('GET', '/api/v1/tokens'));

  async function revoke(t) {
    if (!(await confirmAction(`Revoke the token ${t.name}?`, 'Integrations using it get 401 at once. This cannot be undone.', 'Revoke token'))) return;
    try {
      await api('DELETE', `/api/v1/tokens/${t.id}`);
      detail.replaceChildren(el('p', { class: 'form-status', role: 'status' }, `The token ${t.name} was revoked.`));
    } catch (e) {
      detail.replaceChildren(el('p', { class: 'error', role: 'alert' }, e.message));
    }
    await reload();
  }

  function create() {
    const f = {
      name: input({ maxlength: '200', placeholder: 'e.g. Reporting export' }),
      user_id: select(C.users.map((u) => [u.id, `${u.display_name || u.username} (${u.role})`]), undefined),
      expires_in_days: number({ min: '1', placeholder: 'Never' }),
    };
    const form = el('form', { class: 'adm-form card', 'aria-label': 'New integration token' },
      el('h3', null, 'New integration token'),
      el('div', { class: 'form-grid' },
        field('Name', f.name, { name: 'name' }),
        field('Acts as user', f.user_id, { name: 'user_id', hint: 'The token may do what this user may do.' }),
        field('Expires after (days)', f.expires_in_days, { name: 'expires_in_days', hint: 'Blank: never expires.' })),
      buttons(['Create token', { type: 'submit', primary: true }], ['Cancel', { onclick: () => detail.replaceChildren() }]));
    onSubmit(form, async () => {
      const made = await api('POST', '/api/v1/tokens', { name: f.name.value.trim(), user_id: f.user_id.value, expires_in_days: intOf(f.expires_in_days) });
      await reload();
      detail.replaceChildren(el('div', { class: 'adm-form card token-once', role: 'group', 'aria-label': 'The new token' },
        el('h3', null, `Token ${made.name}`),
        el('p', { class: 'warn-box', role: 'alert' }, 'Copy this token now: it is shown only once and cannot be read again.'),
        el('div', { class: 'copy-row' },
          el('label', { for: 'token-value' }, 'Token'),
          el('textarea', { id: 'token-value', class: 'token-value', rows: '2', readonly: true, spellcheck: 'false', onfocus: (ev) => ev.target.select() }, made.token),
          copyButton(() => made.token)),
        el('p', { class: 'muted' }, 'Integrations send it as ', el('code', null, 'Authorization: Bearer <token>'), made.expires_at ? `; it expires ${when(made.expires_at)}.` : '; it does not expire.'),
        buttons(['Done', { onclick: () => detail.replaceChildren() }])));
      detail.querySelector('.copy').focus();
      return '';
    });
    detail.replaceChildren(form);
    f.name.focus();
  }

  box.append(split(list.node, detail));
  await reload();
}

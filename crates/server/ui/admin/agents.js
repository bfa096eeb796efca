// Users: agents, supervisors and admins. Create, change role, capacity, can_reject and queues,
// reset a password, deactivate (DELETE, after a confirmation).
import { api } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { S } from '../lib/store.js';
import { buttons, checkbox, checkList, dangerZone, field, input, intOf, listView, number, onSubmit, saveItem, select, split } from './kit.js';

export const label = 'Users';

const ROLES = [['agent', 'Agent'], ['supervisor', 'Supervisor'], ['admin', 'Admin']];
const roleWords = (r) => (ROLES.find(([v]) => v === r) || [r, r])[1];

export async function render(box, C) {
  const detail = el('div', { class: 'adm-detail' });
  const list = listView({
    caption: 'Users',
    text: (u) => `${u.display_name || ''} ${u.username} ${u.role}`,
    tools: [el('button', { type: 'button', class: 'primary', onclick: () => edit(null) }, '+ New user')],
    columns: [
      { key: 'name', label: 'Name', value: (u) => u.display_name || u.username,
        cell: (u) => el('button', { type: 'button', class: 'link', onclick: () => edit(u) }, u.display_name || u.username) },
      { key: 'username', label: 'Username', value: (u) => u.username },
      { key: 'role', label: 'Role', value: (u) => roleWords(u.role) },
      { key: 'capacity', label: 'Capacity', num: true, value: (u) => u.capacity },
      { key: 'queues', label: 'Queues', value: (u) => (u.queue_ids || []).map(C.queueName).join(', ') },
      { key: 'can_reject', label: 'Can reject', value: (u) => (u.can_reject ? 'Yes' : 'No') },
    ],
  });
  const reload = async () => { await C.refresh(); list.render(C.users); };

  function edit(u) {
    const isNew = !u;
    const f = {
      username: input({ value: isNew ? '' : u.username, disabled: !isNew, maxlength: '64', autocomplete: 'off' }),
      display_name: input({ value: isNew ? '' : u.display_name || '', maxlength: '200' }),
      password: input({ type: 'password', autocomplete: 'new-password' }),
      role: select(ROLES, isNew ? 'agent' : u.role),
      capacity: number({ value: isNew ? 3 : u.capacity, min: '1', max: '100' }),
      can_reject: checkbox(isNew ? false : u.can_reject),
      queue_ids: checkList(C.queues.map((q) => [q.id, q.name]), isNew ? [] : u.queue_ids || [], 'No queues yet: create one under Queues.'),
    };
    const form = el('form', { class: 'adm-form card', 'aria-label': isNew ? 'New user' : `User ${u.username}` },
      el('h3', null, isNew ? 'New user' : u.display_name || u.username),
      el('div', { class: 'form-grid' },
        field('Username', f.username, { name: 'username', hint: isNew ? 'Letters, digits, . _ - @; cannot be changed later.' : null }),
        field('Display name', f.display_name, { name: 'display_name', hint: 'How colleagues see them: offers, transfers, the board.' }),
        isNew ? field('Password', f.password, { name: 'password', hint: 'At least 8 characters.' }) : null,
        field('Role', f.role, { name: 'role' }),
        field('Capacity', f.capacity, { name: 'capacity', hint: 'Chats at once, 1 to 100.' }),
        field('May reject offers', f.can_reject, { name: 'can_reject' })),
      field('Queues', f.queue_ids, { name: 'queue', wide: true }),
      buttons([isNew ? 'Create user' : 'Save changes', { type: 'submit', primary: true }], ['Cancel', { onclick: () => detail.replaceChildren() }]));
    onSubmit(form, async () => {
      const body = {
        display_name: f.display_name.value.trim(), role: f.role.value, capacity: intOf(f.capacity),
        can_reject: f.can_reject.checked, queue_ids: f.queue_ids.value(),
      };
      if (isNew) Object.assign(body, { username: f.username.value.trim(), password: f.password.value });
      return saveItem({
        path: '/api/v1/agents', id: u && u.id, body, reload, detail,
        open: (made) => edit(C.users.find((x) => x.id === made.id) || made),
        created: (made) => `User ${made.username} created.`,
      });
    });
    const nodes = [form];
    if (!isNew) {
      const pw = input({ type: 'password', autocomplete: 'new-password' });
      const reset = el('form', { class: 'adm-form card', 'aria-label': 'Reset password' },
        el('h3', null, 'Reset password'),
        field('New password', pw, { name: 'password', hint: 'At least 8 characters. Tell the user; their sessions stay open.' }),
        buttons(['Set password', { type: 'submit' }]));
      onSubmit(reset, async () => {
        await api('PATCH', `/api/v1/agents/${u.id}`, { password: pw.value });
        pw.value = '';
        return 'The password was changed.';
      });
      nodes.push(reset);
      if (S.me && S.me.id !== u.id) {
        nodes.push(dangerZone({
          title: 'Deactivate',
          text: 'The user can no longer log in; their history stays. Only a user who holds no interactions can be deactivated.',
          button: `Deactivate ${u.username}`,
          ask: [`Deactivate ${u.display_name || u.username}?`, 'They are logged out at once and can no longer log in.', 'Deactivate'],
          path: `/api/v1/agents/${u.id}`, detail, done: `${u.username} was deactivated.`, after: reload,
        }));
      }
    }
    detail.replaceChildren(...nodes);
    (isNew ? f.username : f.display_name).focus();
  }

  box.append(split(list.node, detail));
  list.render(C.users);
}

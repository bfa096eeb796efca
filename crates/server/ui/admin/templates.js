// WhatsApp message templates: read them again from WhatsApp (sync), their approval status, and
// each variable's contact field, prefilled when an agent sends the template (PATCH variable_map).
import { api } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { buttons, field, input, listView, onSubmit, split, when } from './kit.js';

export const label = 'Templates';

const CONTACT_FIELDS = ['contact.name', 'contact.first_name', 'contact.last_name', 'contact.email', 'contact.phone'];
const STATUS = { APPROVED: 'good', PENDING: 'warn', REJECTED: 'bad', PAUSED: 'warn', DISABLED: 'bad' };

export async function render(box) {
  const detail = el('div', { class: 'adm-detail' });
  const syncStatus = el('p', { class: 'form-status', role: 'status' });
  let items = [];
  const sync = el('button', { type: 'button', class: 'primary', onclick: async () => {
    sync.disabled = true;
    syncStatus.className = 'form-status';
    syncStatus.textContent = 'Reading templates from WhatsApp…';
    try {
      const r = await api('POST', '/api/v1/templates/sync', {});
      const accounts = r.accounts || [];
      const failed = accounts.filter((a) => !a.ok);
      syncStatus.textContent = failed.length
        ? `Sync failed for ${failed.length} account(s): ${failed.map((a) => (a.error && a.error.message) || 'error').join('; ')}`
        : `Synced: ${accounts.reduce((n, a) => n + a.listed, 0)} templates listed, ${accounts.reduce((n, a) => n + a.added, 0)} new, ${accounts.reduce((n, a) => n + a.updated, 0)} changed.`;
      if (failed.length) syncStatus.className = 'form-status bad';
      await reload();
    } catch (e) {
      syncStatus.className = 'form-status bad';
      syncStatus.textContent = e.message;
    } finally { sync.disabled = false; }
  } }, 'Sync from WhatsApp');
  const list = listView({
    caption: 'Templates',
    text: (t) => `${t.name} ${t.language} ${t.category} ${t.status}`,
    tools: [sync],
    emptyText: 'No templates yet: connect a number with its business account id, then sync.',
    columns: [
      { key: 'name', label: 'Name', value: (t) => t.name, cell: (t) => el('button', { type: 'button', class: 'link', onclick: () => edit(t) }, t.name) },
      { key: 'language', label: 'Language', value: (t) => t.language },
      { key: 'status', label: 'Status', value: (t) => t.status,
        cell: (t) => el('span', { class: `pill ${STATUS[t.status] || ''}`, title: t.rejected_reason || null }, t.status.toLowerCase()) },
      { key: 'vars', label: 'Variables', num: true, value: (t) => t.variables.length },
    ],
  });
  async function reload() { items = await api('GET', '/api/v1/templates'); list.render(items); }

  function edit(t) {
    const map = t.variable_map || {};
    const options = el('datalist', { id: 'tpl-contact-fields' }, CONTACT_FIELDS.map((v) => el('option', { value: v })));
    const inputs = t.variables.map((v) => [v.key, input({ value: map[v.key] || '', list: 'tpl-contact-fields', placeholder: 'Not prefilled' })]);
    const form = el('form', { class: 'adm-form card', 'aria-label': `Template ${t.name}` },
      el('h3', null, `${t.name} (${t.language})`),
      el('p', { class: 'muted' }, `${t.category.toLowerCase()} · ${t.status.toLowerCase()}${t.rejected_reason ? ` (${t.rejected_reason})` : ''} · synced ${when(t.synced_at)}`),
      t.body ? el('blockquote', { class: 'tpl-body' }, t.body) : null,
      options,
      inputs.length
        ? el('div', null, el('p', { class: 'hint muted' }, 'Each variable can be prefilled from a contact field (contact.name, contact.first_name, contact.last_name, contact.email, contact.phone, contact.fields.KEY) when an agent sends the template.'),
          el('div', { class: 'form-grid' }, inputs.map(([key, i]) => field(`Variable ${key}`, i, { name: 'variable_map' }))))
        : el('p', { class: 'muted' }, 'This template has no variables.'),
      inputs.length ? buttons(['Save variables', { type: 'submit', primary: true }]) : null);
    onSubmit(form, async () => {
      const variable_map = {};
      for (const [key, i] of inputs) if (i.value.trim()) variable_map[key] = i.value.trim();
      const saved = await api('PATCH', `/api/v1/templates/${t.id}`, { variable_map });
      items = items.map((x) => (x.id === saved.id ? saved : x));
      list.render(items);
      return 'Saved.';
    });
    detail.replaceChildren(form);
  }

  box.append(syncStatus, split(list.node, detail));
  await reload();
}

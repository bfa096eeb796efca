// Standard responses (R-3.8): title, category, optional shortcut (`/shortcut` in the compose
// box), global or for some queues, and the text with its placeholders filled per interaction.
// The search and category filter are the API's (`?q=`, `?category=`).
import { api } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { buttons, checkList, dangerZone, field, input, listView, onSubmit, saveItem, split } from './kit.js';

export const label = 'Standard responses';

const PLACEHOLDERS = ['{{contact.first_name}}', '{{contact.name}}', '{{agent.display_name}}', '{{queue.name}}'];

export async function render(box, C) {
  const detail = el('div', { class: 'adm-detail' });
  const q = el('input', { type: 'search', autocomplete: 'off', 'aria-label': 'Search responses', placeholder: 'Search titles and texts' });
  const category = el('select', { 'aria-label': 'Category' }, el('option', { value: '' }, 'All categories'));
  let items = [];
  let seq = 0;
  const list = listView({
    caption: 'Standard responses',
    text: (r) => `${r.title} ${r.category || ''} ${r.shortcut || ''}`,
    // The API searches titles and texts (`?q=`) and filters by category.
    searchBox: false,
    tools: [q, category, el('button', { type: 'button', class: 'primary', onclick: () => edit(null) }, '+ New response')],
    emptyText: 'No standard responses yet.',
    columns: [
      { key: 'title', label: 'Title', value: (r) => r.title, cell: (r) => el('button', { type: 'button', class: 'link', onclick: () => edit(r) }, r.title) },
      { key: 'category', label: 'Category', value: (r) => r.category || null },
      { key: 'shortcut', label: 'Shortcut', value: (r) => r.shortcut || null, cell: (r) => (r.shortcut ? el('code', null, `/${r.shortcut}`) : null) },
      { key: 'queues', label: 'Queues', value: (r) => ((r.queue_ids || []).length ? r.queue_ids.map(C.queueName).join(', ') : 'All (global)') },
    ],
  });

  async function reload() {
    const mine = ++seq;
    const p = new URLSearchParams();
    if (q.value.trim()) p.set('q', q.value.trim());
    if (category.value) p.set('category', category.value);
    const got = await api('GET', `/api/v1/responses${p.toString() ? `?${p}` : ''}`);
    if (mine !== seq) return;
    items = got;
    if (!q.value && !category.value) {
      const keep = category.value;
      const cats = [...new Set(items.map((r) => r.category).filter(Boolean))].sort();
      category.replaceChildren(el('option', { value: '' }, 'All categories'), ...cats.map((c) => el('option', { value: c }, c)));
      category.value = keep;
    }
    list.render(items);
  }
  let timer = null;
  q.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => reload().catch(() => {}), 250); });
  category.addEventListener('change', () => reload().catch(() => {}));

  function edit(r) {
    const isNew = !r;
    const v = r || { title: '', text: '', category: '', shortcut: '', queue_ids: [] };
    const f = {
      title: input({ value: v.title, maxlength: '200' }),
      category: input({ value: v.category || '', maxlength: '100', list: 'resp-categories' }),
      shortcut: input({ value: v.shortcut || '', maxlength: '32', placeholder: 'e.g. hello' }),
      queue_ids: checkList(C.queues.map((x) => [x.id, x.name]), v.queue_ids || [], 'No queues yet.'),
      text: el('textarea', { rows: '6' }, v.text),
    };
    const help = el('div', { class: 'hint muted' }, 'Placeholders, filled for each interaction: ',
      PLACEHOLDERS.map((p) => el('button', { type: 'button', class: 'chip', title: 'Insert', onclick: () => {
        const t = f.text;
        const at = t.selectionStart ?? t.value.length;
        t.setRangeText(p, at, t.selectionEnd ?? at, 'end');
        t.focus();
      } }, p)),
      '. One without a value is left for the agent to fill.');
    const form = el('form', { class: 'adm-form card', 'aria-label': isNew ? 'New standard response' : `Response ${v.title}` },
      el('h3', null, isNew ? 'New standard response' : v.title),
      el('datalist', { id: 'resp-categories' }, [...new Set(items.map((x) => x.category).filter(Boolean))].map((c) => el('option', { value: c }))),
      el('div', { class: 'form-grid' },
        field('Title', f.title, { name: 'title' }),
        field('Category', f.category, { name: 'category' }),
        field('Shortcut', f.shortcut, { name: 'shortcut', hint: 'Agents type /shortcut in the message box.' })),
      field('Text', f.text, { name: 'text', wide: true }),
      help,
      field('Queues (none: every queue)', f.queue_ids, { name: 'queue', wide: true }),
      buttons([isNew ? 'Create response' : 'Save changes', { type: 'submit', primary: true }], ['Cancel', { onclick: () => detail.replaceChildren() }]));
    onSubmit(form, async () => {
      const body = { title: f.title.value.trim(), text: f.text.value, queue_ids: f.queue_ids.value() };
      const cat = f.category.value.trim();
      const sc = f.shortcut.value.trim().replace(/^\//, '');
      if (cat || !isNew) body.category = cat || null;
      if (sc || !isNew) body.shortcut = sc || null;
      return saveItem({
        path: '/api/v1/responses', id: r && r.id, body, reload, detail, open: edit, created: (s) => `Response ${s.title} created.`,
      });
    });
    const nodes = [form];
    if (!isNew) {
      nodes.push(dangerZone({
        button: `Delete ${v.title}`,
        ask: [`Delete the response ${v.title}?`, 'Agents can no longer insert it.', 'Delete response'],
        path: `/api/v1/responses/${r.id}`, detail, done: `${v.title} was deleted.`, after: reload,
      }));
    }
    detail.replaceChildren(...nodes);
    f.title.focus();
  }

  box.append(split(list.node, detail));
  await reload();
}

// Queues: every field of the API — routing policy, priority, time to accept, post processing,
// response target, dispositions (and whether one is required at wrap-up), sticky routing and
// how long it holds. Deleting asks first.
import { el } from '../lib/dom.js';
import { buttons, checkbox, dangerZone, field, input, intOf, listView, number, onSubmit, saveItem, select, split } from './kit.js';

export const label = 'Queues';

const POLICIES = [['longest_idle', 'Longest idle'], ['least_busy', 'Least busy'], ['round_robin', 'Round robin']];
const policyWords = (p) => (POLICIES.find(([v]) => v === p) || [p, p])[1];

/** The dispositions editor: a row per code and label; `.value()` gives the API's list. */
function dispositionsEditor(list) {
  const rows = el('ol', { class: 'disp-list' });
  const row = (d = { code: '', label: '' }) => {
    const code = input({ value: d.code, 'aria-label': 'Code', placeholder: 'code, e.g. resolved', maxlength: '64' });
    const lbl = input({ value: d.label, 'aria-label': 'Label', placeholder: 'Label agents see', maxlength: '200' });
    const li = el('li', null, code, lbl, el('button', { type: 'button', class: 'link', 'aria-label': 'Remove this disposition', onclick: () => li.remove() }, 'Remove'));
    return li;
  };
  rows.append(...list.map(row));
  const box = el('div', null, rows, el('button', { type: 'button', onclick: () => { const li = row(); rows.append(li); li.querySelector('input').focus(); } }, '+ Add disposition'));
  box.value = () => [...rows.children].map((li) => {
    const [c, l] = li.querySelectorAll('input');
    return { code: c.value.trim(), label: l.value.trim() || c.value.trim() };
  }).filter((d) => d.code);
  return box;
}

export async function render(box, C) {
  const detail = el('div', { class: 'adm-detail' });
  const list = listView({
    caption: 'Queues',
    text: (q) => q.name,
    tools: [el('button', { type: 'button', class: 'primary', onclick: () => edit(null) }, '+ New queue')],
    emptyText: 'No queues yet.',
    columns: [
      { key: 'name', label: 'Name', value: (q) => q.name, cell: (q) => el('button', { type: 'button', class: 'link', onclick: () => edit(q) }, q.name) },
      { key: 'policy', label: 'Routing', value: (q) => policyWords(q.routing_policy) },
      { key: 'priority', label: 'Priority', num: true, value: (q) => q.priority },
      { key: 'sla', label: 'Target', title: 'Response target', num: true, value: (q) => q.sla_response_s, cell: (q) => `${q.sla_response_s} s` },
      { key: 'disp', label: 'Dispositions', value: (q) => q.dispositions.length, cell: (q) => `${q.dispositions.length}${q.disposition_required ? ' (required)' : ''}` },
      { key: 'sticky', label: 'Sticky', value: (q) => (q.sticky ? `${q.sticky_timeout_s} s` : 'No') },
    ],
  });
  const reload = async () => { await C.refresh(); list.render(C.queues); };

  function edit(q) {
    const isNew = !q;
    const v = q || { name: '', routing_policy: 'longest_idle', priority: 1, acceptance_interval_s: 30, post_processing_s: 60, sla_response_s: 60, dispositions: [], disposition_required: false, sticky: false, sticky_timeout_s: 3600 };
    const f = {
      name: input({ value: v.name, maxlength: '200' }),
      routing_policy: select(POLICIES, v.routing_policy),
      priority: number({ value: v.priority }),
      acceptance_interval_s: number({ value: v.acceptance_interval_s, min: '1' }),
      post_processing_s: number({ value: v.post_processing_s }),
      sla_response_s: number({ value: v.sla_response_s }),
      dispositions: dispositionsEditor(v.dispositions),
      disposition_required: checkbox(v.disposition_required),
      sticky: checkbox(v.sticky),
      sticky_timeout_s: number({ value: v.sticky_timeout_s }),
    };
    const stickyTimeout = field('Keep a returning customer for their last agent for (s)', f.sticky_timeout_s, { name: 'sticky_timeout_s' });
    const syncSticky = () => { stickyTimeout.hidden = !f.sticky.checked; };
    f.sticky.addEventListener('change', syncSticky);
    syncSticky();
    const form = el('form', { class: 'adm-form card', 'aria-label': isNew ? 'New queue' : `Queue ${v.name}` },
      el('h3', null, isNew ? 'New queue' : v.name),
      el('div', { class: 'form-grid' },
        field('Name', f.name, { name: 'name' }),
        field('Routing policy', f.routing_policy, { name: 'routing_policy' }),
        field('Priority', f.priority, { name: 'priority', hint: 'Higher goes first when an agent serves several queues.' }),
        field('Time to accept an offer (s)', f.acceptance_interval_s, { name: 'acceptance_interval_s', hint: 'Then the offer goes to someone else.' }),
        field('Post processing (s)', f.post_processing_s, { name: 'post_processing_s', hint: 'Wrap-up time after an interaction ends.' }),
        field('Response target (s)', f.sla_response_s, { name: 'sla_response_s', hint: 'For the board and SLA %.' })),
      field('Dispositions', f.dispositions, { name: 'dispositions', wide: true, hint: 'What agents pick at wrap-up.' }),
      field('A disposition is required at wrap-up', f.disposition_required, { name: 'disposition_required' }),
      field('Sticky: a returning customer goes to their last agent', f.sticky, { name: 'sticky' }),
      stickyTimeout,
      buttons([isNew ? 'Create queue' : 'Save changes', { type: 'submit', primary: true }], ['Cancel', { onclick: () => detail.replaceChildren() }]));
    onSubmit(form, async () => {
      const body = {
        name: f.name.value.trim(), routing_policy: f.routing_policy.value, priority: intOf(f.priority),
        acceptance_interval_s: intOf(f.acceptance_interval_s), post_processing_s: intOf(f.post_processing_s),
        sla_response_s: intOf(f.sla_response_s), dispositions: f.dispositions.value(),
        disposition_required: f.disposition_required.checked, sticky: f.sticky.checked, sticky_timeout_s: intOf(f.sticky_timeout_s),
      };
      return saveItem({
        path: '/api/v1/queues', id: q && q.id, body, reload, detail, open: edit, created: (s) => `Queue ${s.name} created.`,
      });
    });
    const nodes = [form];
    if (!isNew) {
      nodes.push(dangerZone({
        title: 'Delete queue',
        text: 'Only a queue with no interactions, and that no WhatsApp number routes to, can be deleted.',
        button: `Delete ${v.name}`,
        ask: [`Delete the queue ${v.name}?`, 'Agents lose it from their queues. This cannot be undone.', 'Delete queue'],
        path: `/api/v1/queues/${q.id}`, detail, done: `Queue ${v.name} was deleted.`, after: reload,
      }));
    }
    detail.replaceChildren(...nodes);
    f.name.focus();
  }

  box.append(split(list.node, detail));
  list.render(C.queues);
}

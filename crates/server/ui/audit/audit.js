// The audit log (R-8.5), searchable by supervisors and admins: who changed what and when, from
// GET /api/v1/audit (newest first, paged with its `next`). Filters by time, actor (the users of
// GET /api/v1/agents), action (a family such as `queue.`, or one action) and target id; "Load
// older" reads the next page; a selected entry shows its values before and after side by side,
// the fields that changed highlighted. New entries the filters list appear on top as they
// happen (the floor stream's `audit.created`). It only reads: nothing here changes anything.
import { api } from '../lib/api.js';
import { on } from '../lib/bus.js';
import { $, el } from '../lib/dom.js';
import { S } from '../lib/store.js';
import { sortableTable } from '../lib/table.js';
import { showWorkspace } from '../desk/desk.js';

/**
 * The actions the server writes (`services/audit.rs`), by family: the family's prefix (the API
 * filters by a prefix ending with a dot) and each action in words.
 */
const FAMILIES = [
  ['queue.', 'Queues', { 'queue.created': 'Queue created', 'queue.updated': 'Queue changed', 'queue.deleted': 'Queue deleted' }],
  ['agent.', 'Users', {
    'agent.created': 'User created', 'agent.updated': 'User changed', 'agent.password_reset': 'Password reset', 'agent.deleted': 'User deleted',
  }],
  ['settings.', 'Settings', { 'settings.updated': 'Settings changed' }],
  ['channel.', 'Channels', { 'channel.created': 'Channel added', 'channel.updated': 'Channel changed', 'channel.deleted': 'Channel removed' }],
  ['presence.', 'Status', { 'presence.changed': 'Status changed' }],
  ['stop_new.', 'Stop new', { 'stop_new.changed': 'Stop new changed' }],
  ['login.', 'Logins', { 'login.succeeded': 'Logged in', 'login.failed': 'Login failed' }],
  ['interaction.', 'Supervision', {
    'interaction.taken_over': 'Interaction taken over', 'interaction.reassigned': 'Interaction reassigned', 'interaction.whispered': 'Whisper sent',
  }],
  ['template.', 'Templates', { 'template.updated': 'Template variables changed' }],
  ['templates.', 'Template syncs', { 'templates.synced': 'Templates read from WhatsApp' }],
  ['crm_event.', 'CRM events', { 'crm_event.retried': 'CRM event sent again' }],
];
const ACTIONS = Object.assign({}, ...FAMILIES.map(([, , a]) => a));

/** Field names of the values (queues, users, settings, channels, presence) in words. */
const FIELDS = {
  name: 'Name', routing_policy: 'Routing', priority: 'Priority', acceptance_interval_s: 'Time to accept (s)',
  post_processing_s: 'Post processing (s)', sla_response_s: 'Response target (s)', dispositions: 'Dispositions',
  disposition_required: 'Disposition required', sticky: 'Sticky', sticky_timeout_s: 'Sticky for (s)',
  display_name: 'Display name', username: 'Username', role: 'Role', capacity: 'Capacity', can_reject: 'Can reject',
  queue_ids: 'Queues', presence: 'Status', break_reason: 'Break reason', stop_new: 'Stop new',
  phone_number_id: 'Phone number id', display_phone_number: 'Phone number', waba_id: 'WhatsApp business account',
  queue_id: 'Queue', language: 'Language', variable_map: 'Variables', id: 'Id',
};
const TARGETS = { queue: 'Queue', agent: 'User', user: 'User', settings: 'Settings', channel: 'Channel', interaction: 'Interaction', template: 'Template' };

const A = {
  root: null, items: [], next: null, selected: null, seq: 0, offs: [],
  // The server's order (newest first, by time then id): entries of one millisecond keep it.
  rank: new Map(),
  agents: new Map(), queues: new Map(),
};

/** An action in words (an unknown one as it is written). */
export const actionWords = (action) => ACTIONS[action] || action;

const fieldWords = (k) => FIELDS[k] || k.replace(/_/g, ' ');

const fmtAt = (s) => new Date(s).toLocaleString([], {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});

/** What the entry was about, in words: its kind and its name where one is known. */
function targetWords(e) {
  const t = e.target || {};
  const v = e.after || e.before || {};
  let name = null;
  if (t.type === 'queue') name = v.name || (A.queues.get(t.id) || {}).name;
  else if (t.type === 'agent' || t.type === 'user') name = (A.agents.get(t.id) || {}).display_name || v.display_name || v.username;
  else if (t.type === 'template') name = v.name;
  else if (t.type === 'channel') name = v.display_phone_number;
  const kind = TARGETS[t.type] || t.type || '';
  if (t.type === 'settings') return kind;
  return [kind, name || t.id].filter(Boolean).join(' ');
}

/** A value of a field as text (lists of queue ids as the queues' names). */
function valueText(key, v) {
  if (v === undefined) return '';
  if (v === null) return '—';
  if (key === 'queue_ids' && Array.isArray(v)) return v.map((id) => (A.queues.get(id) || {}).name || id).join(', ') || '—';
  if (key === 'queue_id' && typeof v === 'string') return (A.queues.get(v) || {}).name || v;
  if (typeof v === 'boolean') return v ? 'Yes' : 'No';
  if (typeof v === 'object') return JSON.stringify(v, null, 1);
  return String(v);
}

const table = sortableTable({
  caption: 'Audit entries',
  sortKey: 'at',
  descending: true,
  rowClass: (e) => (e.id === A.selected ? 'selected' : ''),
  columns: [
    { key: 'at', label: 'Time', value: (e) => A.rank.get(e.id), cell: (e) => fmtAt(e.at) },
    { key: 'actor', label: 'Actor', value: (e) => (e.actor ? e.actor.name || e.actor.id : 'System'),
      cell: (e) => (e.actor ? e.actor.name || e.actor.id : el('span', { class: 'muted' }, 'System')) },
    { key: 'action', label: 'Action', value: (e) => actionWords(e.action),
      cell: (e) => el('button', { type: 'button', class: 'link', title: e.action, 'aria-pressed': e.id === A.selected ? 'true' : 'false', onclick: () => select(e.id) }, actionWords(e.action)) },
    { key: 'target', label: 'Target', value: targetWords },
  ],
});

/** The filters as the API's query. */
function query(before) {
  const p = new URLSearchParams();
  const time = (id) => {
    const v = $(id).value;
    const d = v ? new Date(v) : null;
    return d && !Number.isNaN(d.getTime()) ? d.toISOString() : v;
  };
  const put = (k, v) => { if (v) p.set(k, v); };
  put('from', time('audit-from'));
  put('to', time('audit-to'));
  put('actor_id', $('audit-actor').value);
  put('action', $('audit-action').value);
  put('target_id', $('audit-target').value.trim());
  put('before', before);
  return p.toString();
}

function showError(msg) {
  const e = $('audit-error');
  if (e) e.textContent = msg || '';
}

/** Reads the first page for the filters (`more`: the next page, added below). */
async function load(more = false) {
  if (!A.root) return;
  const seq = ++A.seq;
  const btn = $('audit-older');
  btn.disabled = true;
  try {
    const q = query(more ? A.next : null);
    const page = await api('GET', `/api/v1/audit${q ? `?${q}` : ''}`);
    if (seq !== A.seq || !A.root) return;
    showError('');
    A.items = more ? [...A.items, ...page.items.filter((x) => !A.items.some((y) => y.id === x.id))] : page.items;
    A.next = page.next || null;
    if (!more && !A.items.some((x) => x.id === A.selected)) A.selected = null;
    draw();
  } catch (e) {
    if (seq !== A.seq) return;
    showError(e.message);
  } finally {
    if (seq === A.seq && A.root) btn.disabled = false;
  }
}

/** Whether entry `e` is one the filters shown would list (as the API filters). */
function matches(e) {
  const p = new URLSearchParams(query());
  const at = Date.parse(e.at);
  if (p.has('from') && !(at >= Date.parse(p.get('from')))) return false;
  if (p.has('to') && !(at < Date.parse(p.get('to')))) return false;
  if (p.has('actor_id') && !(e.actor && e.actor.id === p.get('actor_id'))) return false;
  const action = p.get('action');
  if (action && !(action.endsWith('.') ? e.action.startsWith(action) : e.action === action)) return false;
  if (p.has('target_id') && !(e.target && e.target.id === p.get('target_id'))) return false;
  return true;
}

/** The floor stream's `audit.created`: a new entry the filters list goes on top at once. */
function onFrame(f) {
  if (!A.root) return;
  if (f.type === 'resync') { load(); return; }
  if (f.type !== 'audit.created' || !f.data || A.items.some((x) => x.id === f.data.id) || !matches(f.data)) return;
  A.items = [f.data, ...A.items];
  draw();
}

function draw() {
  A.rank = new Map(A.items.map((e, i) => [e.id, A.items.length - i]));
  table.render(A.items);
  $('audit-empty').hidden = A.items.length > 0;
  $('audit-older').hidden = !A.next;
  $('audit-count').textContent = `${A.items.length} ${A.items.length === 1 ? 'entry' : 'entries'}${A.next ? ', more older' : ''}`;
  drawDetail();
}

function select(id) {
  A.selected = A.selected === id ? null : id;
  table.render(A.items);
  drawDetail();
}

/** The selected entry: what it is, and its values before and after side by side. */
function drawDetail() {
  const box = $('audit-detail');
  const e = A.items.find((x) => x.id === A.selected);
  box.hidden = !e;
  if (!e) { box.replaceChildren(); return; }
  const obj = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? v : v === null || v === undefined ? {} : { value: v });
  const before = obj(e.before);
  const after = obj(e.after);
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const same = (k) => JSON.stringify(before[k]) === JSON.stringify(after[k]);
  const both = e.before !== null && e.before !== undefined && e.after !== null && e.after !== undefined;
  const rows = keys.map((k) => {
    const changed = both && !same(k);
    return el('tr', { class: changed ? 'changed' : null },
      el('th', { scope: 'row' }, fieldWords(k), changed ? el('span', { class: 'sr-only' }, ' (changed)') : null),
      el('td', null, e.before === null || e.before === undefined ? el('span', { class: 'muted' }, '—') : valueText(k, before[k])),
      el('td', null, e.after === null || e.after === undefined ? el('span', { class: 'muted' }, '—') : valueText(k, after[k])));
  });
  const changedCount = rows.filter((r) => r.classList.contains('changed')).length;
  box.replaceChildren(
    el('div', { class: 'audit-detail-head' },
      el('h2', { id: 'audit-detail-title' }, `${actionWords(e.action)}: ${targetWords(e)}`),
      el('button', { type: 'button', onclick: () => select(e.id) }, 'Close')),
    el('p', { class: 'muted' },
      `${fmtAt(e.at)} · ${e.actor ? `by ${e.actor.name || e.actor.id}` : 'by the system'} · `,
      el('code', null, e.action),
      e.client_addr ? ` · from ${e.client_addr}` : '',
      both ? ` · ${changedCount} ${changedCount === 1 ? 'field' : 'fields'} changed` : ''),
    keys.length
      ? el('table', { class: 'grid audit-diff', 'aria-labelledby': 'audit-detail-title' },
        el('caption', { class: 'sr-only' }, 'Before and after'),
        el('thead', null, el('tr', null,
          el('th', { scope: 'col' }, 'Field'), el('th', { scope: 'col' }, 'Before'), el('th', { scope: 'col' }, 'After'))),
        el('tbody', null, rows))
      : el('p', { class: 'muted' }, 'No values were recorded with this entry.'));
}

function actionSelect() {
  return el('select', { id: 'audit-action' },
    el('option', { value: '' }, 'All actions'),
    FAMILIES.map(([prefix, label, actions]) => el('optgroup', { label },
      el('option', { value: prefix }, `${label}: all`),
      Object.entries(actions).map(([a, words]) => el('option', { value: a }, words)))));
}

/** The actors to pick from (every user) and the queues' names, for the filters and the values. */
async function loadNames() {
  try {
    const [agents, queues] = await Promise.all([api('GET', '/api/v1/agents'), api('GET', '/api/v1/queues').catch(() => [])]);
    if (!A.root) return;
    A.agents = new Map(agents.map((a) => [a.id, a]));
    A.queues = new Map((queues || []).map((q) => [q.id, q]));
    const sel = $('audit-actor');
    const keep = sel.value;
    sel.replaceChildren(el('option', { value: '' }, 'Anyone'),
      ...[...A.agents.values()].sort((a, b) => a.display_name.localeCompare(b.display_name))
        .map((a) => el('option', { value: a.id }, `${a.display_name} (${a.username || a.role})`)));
    sel.value = keep;
    draw();
  } catch (e) {
    showError(e.message);
  }
}

function start() {
  loadNames();
  load();
}

export function mount() {
  const app = $('app-view');
  showWorkspace(false);
  const field = (label, control) => el('div', { class: 'field' }, el('label', { for: control.id }, label), control);
  const form = el('form', { class: 'filters', 'aria-label': 'Audit filters', onsubmit: (ev) => { ev.preventDefault(); load(); } },
    field('From', el('input', { id: 'audit-from', type: 'datetime-local', step: '1' })),
    field('To', el('input', { id: 'audit-to', type: 'datetime-local', step: '1' })),
    field('Actor', el('select', { id: 'audit-actor' }, el('option', { value: '' }, 'Anyone'))),
    field('Action', actionSelect()),
    field('Target id', el('input', { id: 'audit-target', type: 'search', autocomplete: 'off', placeholder: 'e.g. a queue or user id' })),
    el('button', { type: 'submit', class: 'primary' }, 'Search'),
    el('button', { type: 'reset' }, 'Clear'));
  // A picked actor, action or time searches at once; the target id on Enter or "Search".
  form.addEventListener('change', (ev) => { if (ev.target.id !== 'audit-target') load(); });
  form.addEventListener('reset', () => setTimeout(load));
  A.root = el('section', { id: 'audit', class: 'audit', 'aria-label': 'Audit log' },
    el('h2', null, 'Audit log'),
    form,
    el('p', { id: 'audit-error', class: 'error', role: 'alert' }),
    el('div', { class: 'audit-body' },
      el('div', { class: 'audit-list' },
        table.table,
        el('p', { id: 'audit-empty', class: 'muted empty', hidden: true }, 'No entries match these filters.'),
        el('div', { class: 'audit-more' },
          el('span', { id: 'audit-count', class: 'muted', role: 'status' }),
          el('button', { id: 'audit-older', type: 'button', hidden: true, onclick: () => load(true) }, 'Load older'))),
      el('aside', { id: 'audit-detail', class: 'audit-detail card', 'aria-label': 'Entry details', hidden: true })));
  app.append(A.root);
  A.offs.push(on('signedIn', start), on('event', onFrame));
  if (S.me) start();
}

export function unmount() {
  for (const off of A.offs.splice(0)) off();
  A.seq += 1;
  if (A.root) A.root.remove();
  A.root = null;
  A.items = [];
  A.next = null;
  A.selected = null;
  A.rank = new Map();
  showWorkspace(true);
}

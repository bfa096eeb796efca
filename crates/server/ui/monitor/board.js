// The supervisor's board: queues and agents live. Loaded from GET /api/v1/monitor, then
// kept current by the `monitor.agent` / `monitor.queue` events of the websocket (the desk's
// socket; every frame is announced on the bus as `event`). Time in state and the longest wait
// tick in the page; colours flag what a supervisor acts on (a queue with customers waiting and
// nobody available, waits past the queue's response target, long breaks, missed offers).
import { api } from '../lib/api.js';
import { on } from '../lib/bus.js';
import { $, el, toast } from '../lib/dom.js';
import { fmtDuration, parseTs } from '../lib/format.js';
import { S } from '../lib/store.js';
import { sortableTable } from '../lib/table.js';
import { watch } from '../watch/watch.js';
import { showWorkspace } from '../desk/desk.js';

const M = { agents: new Map(), queues: new Map(), offs: [], timer: null, frame: 0, root: null, filter: { queue: '', name: '' }, at: null };

const PRESENCE = { available: 'Available', on_break: 'On break', offline: 'Offline', rona: 'Missed offer (RONA)' };
const ACTIVITY = { idle: 'Idle', handling: 'Handling', post_processing: 'Post processing', full: 'Full' };
const BREAK_WARN_MS = 15 * 60_000;
const BREAK_BAD_MS = 30 * 60_000;

const since = (ts) => el('span', { dataset: { since: ts || '' } }, ts ? fmtDuration(Date.now() - parseTs(ts)) : '—');
const waitMs = (q) => (q.oldest_waiting_since ? Date.now() - parseTs(q.oldest_waiting_since) : 0);
const queueName = (id) => (M.queues.get(id) || {}).name || id;

function breakClass(a) {
  if (a.presence === 'rona') return 'cell-bad';
  if (a.presence !== 'on_break') return '';
  const t = Date.now() - parseTs(a.presence_since);
  return t >= BREAK_BAD_MS ? 'cell-bad' : t >= BREAK_WARN_MS ? 'cell-warn' : '';
}

function waitClass(q) {
  if (!q.waiting) return '';
  const w = waitMs(q) / 1000;
  if (q.sla_response_s && w >= q.sla_response_s) return 'cell-bad';
  if (q.sla_response_s && w >= q.sla_response_s / 2) return 'cell-warn';
  return '';
}

function slaCell(q) {
  if (q.sla_met_pct === null || q.sla_met_pct === undefined) return el('span', { class: 'muted' }, '—');
  const p = q.sla_met_pct;
  return el('span', { class: p >= 80 ? 'cell-good' : p >= 60 ? 'cell-warn' : 'cell-bad' }, `${p.toFixed(p % 1 ? 1 : 0)} %`);
}

async function setPresence(a, presence) {
  try {
    await api('PUT', `/api/v1/agents/${encodeURIComponent(a.id)}/presence`, { presence });
  } catch (e) {
    toast(e.message);
  }
}

const queueTable = sortableTable({
  caption: 'Queues',
  sortKey: 'waiting',
  descending: true,
  columns: [
    { key: 'name', label: 'Queue', value: (q) => q.name },
    { key: 'waiting', label: 'Waiting', num: true, value: (q) => q.waiting, title: 'Customers waiting for an agent now' },
    { key: 'wait', label: 'Longest wait', num: true, value: (q) => waitMs(q), title: 'How long the longest-waiting customer has waited (red past the queue\'s response target)',
      cell: (q) => (q.waiting ? el('span', { class: waitClass(q) }, since(q.oldest_waiting_since)) : '—') },
    { key: 'available', label: 'Available agents', num: true, value: (q) => q.available_agents, title: 'Members who could take an offer now',
      cell: (q) => el('span', { class: q.waiting && !q.available_agents ? 'cell-bad' : '' }, String(q.available_agents)) },
    { key: 'offered', label: 'Offered', num: true, value: (q) => q.offered, title: 'Today: customer conversations that arrived in this queue' },
    { key: 'accepted', label: 'Accepted', num: true, value: (q) => q.accepted, title: 'Today: arrived conversations an agent accepted' },
    { key: 'missed', label: 'Missed', num: true, value: (q) => q.missed, title: 'Today: offers whose acceptance time ran out',
      cell: (q) => el('span', { class: q.missed ? 'cell-warn' : '' }, String(q.missed)) },
    { key: 'handled', label: 'Handled', num: true, value: (q) => q.handled, title: 'Today: conversations finished, wrap-up included' },
    { key: 'sla', label: 'SLA met', num: true, value: (q) => q.sla_met_pct, cell: slaCell, title: 'Today: first replies within the queue\'s response target, of those decided' },
  ],
});

const agentTable = sortableTable({
  caption: 'Agents',
  sortKey: 'name',
  rowClass: (a) => `presence-${a.presence}`,
  columns: [
    { key: 'name', label: 'Agent', value: (a) => a.display_name },
    { key: 'presence', label: 'Status', value: (a) => PRESENCE[a.presence] || a.presence,
      cell: (a) => el('span', { class: `pill ${a.presence}` }, PRESENCE[a.presence] || a.presence, a.break_reason ? ` — ${a.break_reason}` : '') },
    { key: 'since', label: 'Time in status', num: true, value: (a) => -parseTs(a.presence_since),
      cell: (a) => el('span', { class: breakClass(a) }, since(a.presence_since)) },
    { key: 'activity', label: 'Activity', value: (a) => ACTIVITY[a.activity] || a.activity,
      cell: (a) => el('span', { class: a.activity === 'full' ? 'cell-warn' : '' }, ACTIVITY[a.activity] || a.activity || '—') },
    { key: 'load', label: 'Load', num: true, value: (a) => (a.capacity ? a.load / a.capacity : 0), title: 'Offered, active and wrap-up interactions against capacity',
      cell: (a) => {
        const fill = el('span');
        // Through the CSSOM: the page's content security policy allows no inline style attributes.
        fill.style.width = `${Math.min(100, a.capacity ? (100 * a.load) / a.capacity : 0)}%`;
        return el('span', { class: `meter${a.load >= a.capacity ? ' full' : ''}` },
          el('span', { class: 'bar', 'aria-hidden': 'true' }, fill), `${a.load} / ${a.capacity}`);
      } },
    { key: 'work', label: 'Interactions', value: (a) => (a.interactions || []).length, title: 'What the agent holds; a live one opens read-only (silent watch)',
      cell: (a) => el('span', { class: 'work' }, ...(a.interactions || []).map((i) => (i.state === 'offered'
        ? el('span', { class: 'muted', title: 'Offered, not accepted yet' }, `${i.customer} (offered)`)
        : el('button', { type: 'button', class: 'link', 'aria-label': `Watch ${i.customer} with ${a.display_name}`, onclick: () => openWatch(i.id) }, i.customer)))) },
    { key: 'stop_new', label: 'Stop new', value: (a) => (a.stop_new ? 1 : 0), cell: (a) => (a.stop_new ? 'Yes' : '') },
    { key: 'queues', label: 'Queues', value: (a) => (a.queue_ids || []).map(queueName).join(', ') },
    { key: 'set', label: 'Set status', value: () => 0,
      cell: (a) => {
        if (S.me && a.id === S.me.id) return '';
        const sel = el('select', { 'aria-label': `Set status of ${a.display_name}` },
          el('option', { value: '' }, 'Set…'),
          el('option', { value: 'available' }, 'Available'),
          el('option', { value: 'offline' }, 'Offline'));
        sel.addEventListener('change', () => { if (sel.value) setPresence(a, sel.value); sel.value = ''; });
        return sel;
      } },
  ],
});

/** Opens a live interaction read-only in the desk (the watch), leaving the board. */
function openWatch(id) {
  // The router's own hashchange listener (registered first) shows the desk, then this one runs.
  window.addEventListener('hashchange', () => watch(id), { once: true });
  location.hash = '#/desk';
}

function visibleAgents() {
  const { queue, name } = M.filter;
  const n = name.trim().toLowerCase();
  return [...M.agents.values()].filter((a) => (!queue || (a.queue_ids || []).includes(queue))
    && (!n || a.display_name.toLowerCase().includes(n)));
}

function draw() {
  M.frame = 0;
  if (!M.root) return;
  const queues = [...M.queues.values()].filter((q) => !M.filter.queue || q.id === M.filter.queue);
  queueTable.render(queues);
  // A status menu the supervisor has open is not redrawn under them.
  const a = document.activeElement;
  if (!(a && a.tagName === 'SELECT' && a.closest('#board table'))) agentTable.render(visibleAgents());
  const agents = [...M.agents.values()];
  const count = (p) => agents.filter(p).length;
  const waiting = queues.reduce((n, q) => n + q.waiting, 0);
  const longest = Math.max(0, ...queues.map(waitMs));
  const tiles = [
    ['Available', count((a) => a.presence === 'available'), ''],
    ['Handling', count((a) => a.activity === 'handling' || a.activity === 'full' || a.activity === 'post_processing'), ''],
    ['On break', count((a) => a.presence === 'on_break'), ''],
    ['Offline', count((a) => a.presence === 'offline'), ''],
    ['Waiting', waiting, waiting && !queues.some((q) => q.available_agents) ? 'bad' : ''],
    ['Longest wait', fmtDuration(longest), queues.some((q) => waitClass(q) === 'cell-bad') ? 'bad' : ''],
  ];
  $('board-tiles').replaceChildren(...tiles.map(([label, n, cls]) => el('div', { class: `tile ${cls}` }, el('span', { class: 'n' }, String(n)), label)));
  const sel = $('board-queue');
  const want = [['', 'All queues'], ...[...M.queues.values()].sort((a, b) => a.name.localeCompare(b.name)).map((q) => [q.id, q.name])];
  if (sel.options.length !== want.length || want.some(([v], i) => sel.options[i].value !== v)) {
    sel.replaceChildren(...want.map(([v, t]) => el('option', { value: v }, t)));
    sel.value = M.filter.queue;
  }
}

/** Draws at the next frame, once, however many events came. */
function schedule() {
  if (!M.frame) M.frame = requestAnimationFrame(draw);
}

async function load() {
  try {
    const b = await api('GET', '/api/v1/monitor');
    M.agents = new Map(b.agents.map((a) => [a.id, a]));
    M.queues = new Map(b.queues.map((q) => [q.id, q]));
    schedule();
  } catch (e) {
    toast(e.message);
  }
}

function onFrame(f) {
  if (f.type === 'monitor.agent') { M.agents.set(f.data.id, f.data); schedule(); }
  else if (f.type === 'monitor.queue') { M.queues.set(f.data.id, f.data); schedule(); }
  else if (f.type === 'resync' || f.type === 'hello') load();
}

export function mount() {
  const app = $('app-view');
  showWorkspace(false);
  M.root = el('section', { id: 'board', class: 'board', 'aria-label': 'Board' },
    el('div', { class: 'filters' },
      el('label', null, 'Queue', el('select', { id: 'board-queue', onchange: (e) => { M.filter.queue = e.target.value; schedule(); } })),
      el('label', null, 'Agent', el('input', { id: 'board-name', type: 'search', placeholder: 'Name', oninput: (e) => { M.filter.name = e.target.value; schedule(); } }))),
    el('div', { id: 'board-tiles', class: 'tiles', role: 'status', 'aria-label': 'Floor summary' }),
    el('h2', null, 'Queues'), queueTable.table,
    el('h2', null, 'Agents'), agentTable.table);
  app.append(M.root);
  M.offs.push(on('event', onFrame));
  M.offs.push(on('signedIn', load));
  // Colours that depend on time (long waits, long breaks) are re-judged every second.
  M.timer = setInterval(schedule, 1000);
  if (S.me) load();
}

export function unmount() {
  for (const off of M.offs.splice(0)) off();
  clearInterval(M.timer);
  if (M.frame) cancelAnimationFrame(M.frame);
  M.frame = 0;
  if (M.root) M.root.remove();
  M.root = null;
  showWorkspace(true);
}

// Reports (R-8.4), for supervisors and admins: a range (today, yesterday, the last 7 or 30 days,
// or custom dates; days of the report's time zone, which is shown), a grouping, queue and agent
// filters; charts over time (volume, speed of answer and first response, handle time, SLA %) and
// of the dispositions; the summary table, every figure with its definition as a tooltip; CSV
// downloads. Any figure (a table cell, a bar, a point) lists the interactions behind it through
// the drill-down API, each opening in playback (`#/playback?id=…`); an agent's row opens their
// presence timeline. It only reads.
import { api, download } from '../lib/api.js';
import { on } from '../lib/bus.js';
import { barChart, hbarChart, lineChart } from '../lib/chart.js';
import { $, el, toast } from '../lib/dom.js';
import { fmtDateTime, fmtDuration, fmtNum } from '../lib/format.js';
import { S } from '../lib/store.js';
import { sortableTable } from '../lib/table.js';
import { showWorkspace } from '../desk/desk.js';

/** The definitions of ARCHITECTURE.md, "Report definitions", word for word where they fit. */
export const DEFINITIONS = {
  offered: 'Inbound interactions that arrived. (Per agent: offers made to the agent, routed, sticky, transfer or conference.)',
  accepted: 'Inbound interactions an agent accepted at least once (first accept). (Per agent: offers the agent accepted.)',
  missed: 'Offers whose acceptance interval ran out, counted per offer: one interaction missed by two agents counts 2. An offer taken back because the agent left Available or lost their connection is withdrawn: neither missed nor rejected.',
  rejected: 'Offers the agent rejected, per offer.',
  handled: 'Interactions whose every participation finished wrap-up, outbound starts included; one still in wrap-up is not handled yet. (Per agent: the agent\'s completed participations.)',
  transferred: 'Interactions transferred at least once. (Per agent: participations the agent ended by a transfer.)',
  avg_handle_s: 'Average handle time: over handled interactions, the sum of their participations, each from the agent\'s accept to the end of their own wrap-up: active time plus after-work, in agent-seconds (a transfer adds both agents\' parts).',
  avg_speed_of_answer_s: 'Average speed of answer: over accepted inbound interactions, first accept − arrival.',
  avg_first_response_s: 'Average first response time: over inbound interactions an agent wrote in, the first agent message − arrival.',
  sla_met_pct: 'SLA met %: an inbound interaction meets the SLA when its first agent message came within the response target its queue had at arrival; it misses it when that message came later, or when none came and the target has passed. Met ÷ (met + missed) × 100; empty when nothing is decided.',
  dispositions: 'Handled interactions by the code chosen by the owner who ended them: (none) when the wrap-up countdown completed it, (no code) when submitted without one. Per agent: their own wrap-ups.',
  period: 'An interaction belongs to the period, queue and channel in which it arrived, for every figure, even when it is answered, ended or wrapped up after midnight or transferred.',
};

const COUNTS = [
  ['offered', 'Offered'], ['accepted', 'Accepted'], ['missed', 'Missed'], ['rejected', 'Rejected'],
  ['handled', 'Handled'], ['transferred', 'Transferred'],
];
/** Averages, and the count whose interactions they are taken over (what a click lists). */
const AVERAGES = [
  ['avg_handle_s', 'Avg handle', 'handled'], ['avg_speed_of_answer_s', 'Avg answer', 'accepted'],
  ['avg_first_response_s', 'Avg 1st response', 'offered'], ['sla_met_pct', 'SLA met', 'offered'],
];
const GROUPS = [['queue', 'Queue'], ['agent', 'Agent'], ['channel', 'Channel'], ['day', 'Day'], ['hour', 'Hour']];
const PRESETS = [['today', 'Today'], ['yesterday', 'Yesterday'], ['7', 'Last 7 days'], ['30', 'Last 30 days'], ['custom', 'Custom']];
const PRESENCE = { available: 'Available', on_break: 'On break', rona: 'Missed offer (RONA)', offline: 'Offline' };
const enc = encodeURIComponent;

const R = {
  root: null, offs: [], seq: 0, tz: null,
  summary: null, series: null, agents: [], queues: [],
  table: null, // the summary table of the grouping shown: {group, table, render}
  drill: null, // {title, query, items, next}
  timeline: null, // {agent, data}
};

// ---------- days of a time zone ----------

/** The offset (ms) of the zone `tz` from UTC at the instant `t`. */
function offsetAt(tz, t) {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(t)).map((x) => [x.type, x.value]));
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(t / 1000) * 1000;
}

/** The instant a local day (`YYYY-MM-DD`) of `tz` starts. */
export function dayStart(day, tz) {
  const [y, m, d] = day.split('-').map(Number);
  const guess = Date.UTC(y, m - 1, d);
  const first = guess - offsetAt(tz, guess);
  return guess - offsetAt(tz, first);
}

const dayOf = (t, tz) => new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(t));
const addDays = (day, n) => {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
};

/** The range `[from, to)` (ISO) of the chosen preset or custom days. */
function range() {
  const tz = R.tz || 'UTC';
  const today = dayOf(Date.now(), tz);
  const preset = $('rp-preset').value;
  let first = today;
  let last = today;
  if (preset === 'yesterday') { first = addDays(today, -1); last = first; }
  else if (preset === '7') first = addDays(today, -6);
  else if (preset === '30') first = addDays(today, -29);
  else if (preset === 'custom') {
    first = $('rp-from').value || today;
    last = $('rp-to').value || first;
    if (last < first) [first, last] = [last, first];
  }
  return { from: new Date(dayStart(first, tz)).toISOString(), to: new Date(dayStart(addDays(last, 1), tz)).toISOString(), days: 1 + (Date.parse(`${last}T00:00:00Z`) - Date.parse(`${first}T00:00:00Z`)) / 86_400_000 };
}

// ---------- formatting ----------

/** Seconds: tenths under a minute, else m:ss or h:mm:ss. */
export const secs = (v) => {
  if (v === null || v === undefined) return '—';
  return v < 60 ? `${Math.round(v * 10) / 10} s` : fmtDuration(v * 1000);
};
const pct = (v) => (v === null || v === undefined ? '—' : `${Math.round(v * 10) / 10} %`);
const fmtValue = (key, v) => (key === 'sla_met_pct' ? pct(v) : key.startsWith('avg_') ? secs(v) : String(v));

// ---------- reading ----------

/** The query of the filters, for the summary (`group`) or the drill-down. */
function baseQuery(extra = {}) {
  const { from, to } = range();
  const q = new URLSearchParams({ from, to });
  if (R.tz) q.set('tz', R.tz);
  if ($('rp-queue').value) q.set('queue_id', $('rp-queue').value);
  if ($('rp-agent').value) q.set('agent_id', $('rp-agent').value);
  for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  return q;
}

/** The report's time zone (`reports.timezone`): the server says which it used. */
async function learnZone() {
  if (R.tz) return;
  const now = Date.now();
  const s = await api('GET', `/api/v1/reports/summary?from=${enc(new Date(now - 1000).toISOString())}&to=${enc(new Date(now).toISOString())}`);
  R.tz = s.tz;
}

async function load() {
  if (!R.root) return;
  const seq = ++R.seq;
  try {
    await learnZone();
    if (seq !== R.seq || !R.root) return;
    $('rp-tz').textContent = `Days and hours in ${R.tz}`;
    const { days } = range();
    const bucket = days > 2 ? 'day' : 'hour';
    const group = $('rp-group').value;
    const [summary, series] = await Promise.all([
      api('GET', `/api/v1/reports/summary?${baseQuery({ group_by: group })}`),
      group === bucket ? null : api('GET', `/api/v1/reports/summary?${baseQuery({ group_by: bucket })}`),
    ]);
    if (seq !== R.seq || !R.root) return;
    R.summary = summary;
    R.series = series || summary;
    $('rp-error').textContent = '';
    draw();
  } catch (e) {
    if (seq === R.seq && R.root) $('rp-error').textContent = e.message;
  }
}

// ---------- drawing ----------

/** The summary table of a grouping: its first column is named after it (Queue, Agent, Day…). */
const tableOf = (group) => sortableTable({
  caption: 'Report figures',
  sortKey: 'label',
  columns: [
    { key: 'label', label: (GROUPS.find(([g]) => g === group) || [group, group])[1], value: (r) => (R.summary && ['day', 'hour'].includes(R.summary.group_by) ? r.key : r.label),
      title: DEFINITIONS.period, cell: rowHead },
    ...COUNTS.map(([k, label]) => ({
      key: k, label, num: true, title: DEFINITIONS[k], value: (r) => r[k], cell: (r) => figureButton(r, k, k),
    })),
    ...AVERAGES.map(([k, label, figure]) => ({
      key: k, label, num: true, title: DEFINITIONS[k], value: (r) => r[k], cell: (r) => figureButton(r, k, figure),
    })),
    { key: 'dispositions', label: 'Dispositions', title: DEFINITIONS.dispositions,
      value: (r) => Object.values(r.dispositions).reduce((a, b) => a + b, 0), cell: dispositionCell },
  ],
});

/** The filters of a row: its queue, agent or channel, or its day's or hour's instants. */
function rowFilter(r) {
  if (r.key === 'total') return {};
  switch (R.summary.group_by) {
    case 'queue': return { queue_id: r.key };
    case 'agent': return { agent_id: r.key };
    case 'channel': return { channel_id: r.key };
    default: return { from: r.from, to: r.to };
  }
}

function rowHead(r) {
  if (r.key === 'total') return 'Total';
  if (R.summary.group_by !== 'agent') return r.label;
  return el('span', { class: 'rp-agent' }, r.label, ' ',
    el('button', { type: 'button', class: 'link', title: `${r.label}: presence over the range`, onclick: () => openTimeline(r.key, r.label) }, 'Timeline'));
}

function figureButton(r, key, figure) {
  const v = r[key];
  const text = fmtValue(key, v);
  const label = r.key === 'total' ? 'Total' : r.label;
  return el('button', {
    type: 'button', class: 'link fig', title: DEFINITIONS[key],
    'aria-label': `${label}, ${key.replace(/_/g, ' ')}: ${text}. List the interactions`,
    onclick: () => drill(`${label} — ${COUNTS.concat(AVERAGES).find((c) => c[0] === key)[1]}`, { ...rowFilter(r), figure }),
  }, text);
}

function dispositionCell(r) {
  const entries = Object.entries(r.dispositions);
  if (!entries.length) return '—';
  const label = r.key === 'total' ? 'Total' : r.label;
  return el('span', { class: 'rp-dispositions' }, entries.map(([code, n]) => el('button', {
    type: 'button', class: 'link fig', title: DEFINITIONS.dispositions,
    onclick: () => drill(`${label} — disposition ${code}`, { ...rowFilter(r), disposition: code }),
  }, `${code} ${n}`)));
}

function draw() {
  const s = R.summary;
  if (!R.table || R.table.group !== s.group_by) {
    const next = { group: s.group_by, ...tableOf(s.group_by) };
    if (R.table) R.table.table.replaceWith(next.table);
    else $('rp-table').append(next.table);
    R.table = next;
  }
  const { table } = R;
  table.render(s.rows.map((r) => ({ ...r, id: r.key })));
  const foot = el('tfoot', null, el('tr', { class: 'total', dataset: { id: 'total' } },
    el('th', { scope: 'row' }, 'Total'),
    ...COUNTS.map(([k]) => el('td', { class: 'num' }, figureButton(s.total, k, k))),
    ...AVERAGES.map(([k, , f]) => el('td', { class: 'num' }, figureButton(s.total, k, f))),
    el('td', null, dispositionCell(s.total))));
  table.table.querySelector('tfoot')?.remove();
  table.table.append(foot);
  $('rp-empty').hidden = s.total.offered + s.total.handled > 0;
  drawCharts();
}

function drawCharts() {
  const s = R.series;
  const labels = s.rows.map((r) => (s.group_by === 'hour' ? r.key.slice(11, 13) : r.key.slice(5)));
  const when = (i) => s.rows[i].label;
  const pick = (figures) => (i, k) => drill(`${when(i)} — ${figures[k][1]}`, { from: s.rows[i].from, to: s.rows[i].to, figure: figures[k][0] });
  const volume = [['offered', 'Offered'], ['handled', 'Handled'], ['missed', 'Missed']];
  const t = R.summary.total;
  const codes = Object.keys(t.dispositions);
  const unit = s.group_by === 'hour' ? 'by hour' : 'by day';
  $('rp-charts').replaceChildren(
    barChart({ title: `Volume ${unit}`, labels, integer: true, series: volume.map(([k, name], i) => ({ name, values: s.rows.map((r) => r[k]), color: `var(--chart-${i + 1})` })), onPick: pick(volume) }),
    lineChart({ title: `Speed of answer and first response ${unit}`, labels, format: secs,
      series: [{ name: 'Avg answer', values: s.rows.map((r) => r.avg_speed_of_answer_s) }, { name: 'Avg first response', values: s.rows.map((r) => r.avg_first_response_s) }],
      onPick: pick([['accepted', 'Avg answer'], ['offered', 'Avg first response']]) }),
    barChart({ title: `Handle time ${unit}`, labels, format: secs,
      series: [{ name: 'Avg handle', values: s.rows.map((r) => r.avg_handle_s), color: 'var(--chart-4)' }], onPick: pick([['handled', 'Avg handle']]) }),
    lineChart({ title: `SLA met % ${unit}`, labels, max: 100, format: (v) => `${Math.round(v)} %`,
      series: [{ name: 'SLA met', values: s.rows.map((r) => r.sla_met_pct), color: 'var(--chart-2)' }], onPick: pick([['offered', 'SLA met']]) }),
    codes.length
      ? hbarChart({ title: 'Dispositions', labels: codes, values: codes.map((c) => t.dispositions[c]),
        onPick: (i) => drill(`Disposition ${codes[i]}`, { disposition: codes[i] }) })
      : el('figure', { class: 'chart-box' }, el('figcaption', { class: 'chart-title' }, 'Dispositions'), el('p', { class: 'muted' }, 'No interaction was handled in this range.')));
}

// ---------- the drill-down ----------

async function drill(title, filter, more = false) {
  const d = more ? R.drill : { title, filter, items: [], next: null };
  const q = baseQuery({ ...d.filter, limit: 100, before: more ? d.next : null });
  try {
    const page = await api('GET', `/api/v1/reports/interactions?${q}`);
    d.items = [...d.items, ...page.items];
    d.next = page.next;
    R.drill = d;
    drawDrill();
  } catch (e) {
    toast(e.message);
  }
}

function drawDrill() {
  const d = R.drill;
  const box = $('rp-drill');
  box.hidden = !d;
  if (!d) return;
  const q = baseQuery(d.filter);
  q.set('format', 'csv');
  box.replaceChildren(
    el('div', { class: 'rp-panel-head' },
      el('h3', { id: 'rp-drill-title' }, `Interactions: ${d.title}`),
      el('span', { class: 'muted', role: 'status' }, `${d.items.length}${d.next ? '+' : ''} ${d.items.length === 1 ? 'interaction' : 'interactions'}`),
      el('button', { type: 'button', onclick: () => saveCsv(`/api/v1/reports/interactions?${q}`) }, 'Download CSV'),
      el('button', { type: 'button', onclick: () => { R.drill = null; drawDrill(); } }, 'Close')),
    el('table', { class: 'grid rp-drill-table', 'aria-labelledby': 'rp-drill-title' },
      el('thead', null, el('tr', null, ...['Arrived', 'Customer', 'Queue', 'Agents', 'Answer', 'First response', 'Handle', 'Missed', 'Rejected', 'Disposition', '']
        .map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', null, d.items.map((it) => el('tr', { dataset: { id: it.id } },
        el('td', null, fmtDateTime(it.created_at)),
        el('td', null, it.customer.name || fmtNum(it.customer.wa_id)),
        el('td', null, it.queue.name),
        el('td', null, it.agents.map((a) => a.name).join(', ') || '—'),
        el('td', { class: 'num' }, secs(it.speed_of_answer_s)),
        el('td', { class: 'num' }, secs(it.first_response_s)),
        el('td', { class: 'num' }, secs(it.handle_s)),
        el('td', { class: 'num' }, String(it.missed_offers)),
        el('td', { class: 'num' }, String(it.rejected_offers)),
        el('td', null, it.disposition || (it.wrapped_up_at ? '—' : 'open')),
        el('td', null, el('a', { href: `#/playback?id=${enc(it.id)}`, title: 'Open the transcript in playback' }, 'Play')))))),
    ...(d.items.length ? [] : [el('p', { class: 'muted' }, 'No interaction.')]),
    ...(d.next ? [el('button', { type: 'button', onclick: () => drill(d.title, d.filter, true) }, 'Load more')] : []));
  box.scrollIntoView({ block: 'nearest' });
}

// ---------- an agent's timeline ----------

async function openTimeline(id, name) {
  const { from, to } = range();
  try {
    const data = await api('GET', `/api/v1/reports/agents/${enc(id)}/timeline?from=${enc(from)}&to=${enc(to)}`);
    R.timeline = { id, name, data };
    drawTimeline();
  } catch (e) {
    toast(e.message);
  }
}

function drawTimeline() {
  const t = R.timeline;
  const box = $('rp-timeline');
  box.hidden = !t;
  if (!t) return;
  const { data } = t;
  const start = Date.parse(data.from);
  const span = Math.max(1, Date.parse(data.to) - start);
  const seg = (iv) => {
    const a = Date.parse(iv.from);
    const b = Date.parse(iv.to);
    const words = `${PRESENCE[iv.presence] || iv.presence}${iv.reason ? ` (${iv.reason})` : ''}: ${fmtDateTime(iv.from)} – ${fmtDateTime(iv.to)}, ${fmtDuration(b - a)}`;
    const node = el('span', { class: `rp-seg ${iv.presence}`, title: words, 'aria-label': words, role: 'img' });
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    node.style.left = `${((a - start) * 100) / span}%`;
    node.style.width = `${((b - a) * 100) / span}%`;
    return node;
  };
  box.replaceChildren(
    el('div', { class: 'rp-panel-head' },
      el('h3', null, `${t.name}: presence`),
      el('button', { type: 'button', onclick: () => { R.timeline = null; drawTimeline(); } }, 'Close')),
    el('div', { class: 'rp-bar', role: 'group', 'aria-label': `${t.name}'s presence over the range` }, data.intervals.map(seg)),
    el('ul', { class: 'rp-totals' }, Object.entries(data.totals).map(([p, s]) => el('li', null,
      el('span', { class: `swatch rp-seg-key ${p}` }), `${PRESENCE[p] || p}: `, el('strong', null, fmtDuration(s * 1000)),
      p === 'on_break' && Object.keys(data.break_totals).length
        ? ` (${Object.entries(data.break_totals).map(([r, x]) => `${r} ${fmtDuration(x * 1000)}`).join(', ')})` : ''))));
}

// ---------- downloads ----------

async function saveCsv(path) {
  try {
    await download(path);
  } catch (e) {
    toast(e.message);
  }
}

// ---------- mount ----------

async function loadChoices() {
  try {
    const [agents, queues] = await Promise.all([api('GET', '/api/v1/agents'), api('GET', '/api/v1/queues')]);
    if (!R.root) return;
    R.agents = agents.filter((a) => a.role !== 'admin');
    R.queues = queues;
    $('rp-queue').replaceChildren(el('option', { value: '' }, 'All queues'), ...queues.map((q) => el('option', { value: q.id }, q.name)));
    $('rp-agent').replaceChildren(el('option', { value: '' }, 'All agents'), ...R.agents.map((a) => el('option', { value: a.id }, a.display_name)));
  } catch (e) {
    toast(e.message);
  }
  load();
}

export function mount() {
  const app = $('app-view');
  showWorkspace(false);
  const field = (label, control) => el('div', { class: 'field' }, el('label', { for: control.id }, label), control);
  const form = el('form', { class: 'filters', 'aria-label': 'Report filters', onsubmit: (ev) => { ev.preventDefault(); load(); } },
    field('Range', el('select', { id: 'rp-preset' }, PRESETS.map(([v, l]) => el('option', { value: v }, l)))),
    el('span', { id: 'rp-custom', class: 'rp-custom', hidden: true },
      field('From', el('input', { id: 'rp-from', type: 'date' })),
      field('To', el('input', { id: 'rp-to', type: 'date' }))),
    field('Group by', el('select', { id: 'rp-group' }, GROUPS.map(([v, l]) => el('option', { value: v }, l)))),
    field('Queue', el('select', { id: 'rp-queue' }, el('option', { value: '' }, 'All queues'))),
    field('Agent', el('select', { id: 'rp-agent' }, el('option', { value: '' }, 'All agents'))),
    el('button', { type: 'button', onclick: () => saveCsv(`/api/v1/reports/summary?${baseQuery({ group_by: $('rp-group').value, format: 'csv' })}`) }, 'Download CSV'),
    el('button', { type: 'button', onclick: () => saveCsv(`/api/v1/reports/interactions?${baseQuery({ format: 'csv' })}`) }, 'Download interactions CSV'));
  form.addEventListener('change', () => {
    $('rp-custom').hidden = $('rp-preset').value !== 'custom';
    R.drill = null;
    drawDrill();
    load();
  });
  R.root = el('section', { id: 'reports', class: 'reports', 'aria-label': 'Reports' },
    el('div', { class: 'rp-head' }, el('h2', null, 'Reports'), el('span', { id: 'rp-tz', class: 'muted' })),
    form,
    el('p', { id: 'rp-error', class: 'error', role: 'alert' }),
    el('div', { id: 'rp-charts', class: 'rp-charts' }),
    el('div', { id: 'rp-table', class: 'rp-table' }),
    el('p', { id: 'rp-empty', class: 'muted', hidden: true }, 'No interaction arrived in this range.'),
    el('section', { id: 'rp-drill', class: 'rp-panel card', 'aria-label': 'Interactions behind a figure', hidden: true }),
    el('section', { id: 'rp-timeline', class: 'rp-panel card', 'aria-label': 'Agent timeline', hidden: true }));
  app.append(R.root);
  R.offs.push(on('signedIn', loadChoices));
  if (S.me) loadChoices();
}

export function unmount() {
  for (const off of R.offs.splice(0)) off();
  R.seq += 1;
  if (R.root) R.root.remove();
  R.root = null;
  R.drill = null;
  R.timeline = null;
  R.summary = null;
  R.series = null;
  R.table = null;
  showWorkspace(true);
}

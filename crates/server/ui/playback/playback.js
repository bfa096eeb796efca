// Playback of ended interactions, for supervisors and admins: a search form (customer
// number, agent, queue, dates of arrival, disposition) over `GET /api/v1/interactions?state=done`,
// the results, and a player that reveals one interaction's messages (`GET …/messages`) and notes
// (`GET …/notes`) — whispers and system messages in place, all by time — with their original gaps,
// at 1×, 2×, 8× or all at once; pause and resume; a list to jump to any message; the elapsed time
// of the original conversation. `#/playback?id=<interaction>` opens one interaction directly.
//
// Long silences: a gap that would take more than `LONG_GAP_MS` of real time at the chosen speed is
// played as `SHORT_GAP_MS`, and a "⏩ 4 min later" marker says how much was skipped (the screen
// says so above the transcript). Nothing here changes the interaction: it only reads.
import { noteNode } from '../desk/notes.js';
import { messageNode } from '../desk/transcript.js';
import { api } from '../lib/api.js';
import { on } from '../lib/bus.js';
import { $, el, toast } from '../lib/dom.js';
import { fmtDateTime, fmtDuration, fmtNum, parseTs } from '../lib/format.js';
import { S } from '../lib/store.js';
import { showWorkspace } from '../desk/desk.js';

/** A gap longer than this (real time at the chosen speed) is shortened... */
const LONG_GAP_MS = 10_000;
/** ...to this, with a marker saying how long it really was. */
const SHORT_GAP_MS = 2_000;
const SPEEDS = [['1', '1×'], ['2', '2×'], ['8', '8×'], ['instant', 'Instant']];
const enc = encodeURIComponent;

const P = {
  root: null,
  offs: [],
  results: [],
  query: null, // the search shown (URLSearchParams), for its next pages
  searches: 0, // counts searches: a page answered for an older one is dropped
  it: null, // the interaction played
  events: [], // its messages and notes by time: {t (ms from the first), at, kind, item}
  shown: 0, // how many events are on screen
  markers: new Set(), // indexes of events preceded by a shortened gap
  speed: '8',
  playing: false,
  pos: 0, // the position in the original conversation (ms from the first event) when paused
  base: null, // while playing: {real (performance.now()), pos}
  timer: 0,
  ticker: 0,
  agents: new Map(),
};

const isSupervisor = () => !!S.me && (S.me.role === 'supervisor' || S.me.role === 'admin');

// ---------- the clock of the playback ----------

/** The position in the original conversation now (ms from its first event). */
function position() {
  if (!P.playing || !P.base) return P.pos;
  return P.base.pos + (performance.now() - P.base.real) * Number(P.speed);
}

function setPosition(pos) {
  P.pos = pos;
  P.base = { real: performance.now(), pos };
}

const end = () => (P.events.length ? P.events[P.events.length - 1].t : 0);

/** Reveals what is due, shortens a long silence, and waits for the next event. */
function step() {
  clearTimeout(P.timer);
  P.timer = 0;
  if (!P.playing) return;
  let pos = position();
  const speed = Number(P.speed);
  while (P.shown < P.events.length) {
    const next = P.events[P.shown];
    const prev = P.shown ? P.events[P.shown - 1].t : 0;
    const long = (next.t - prev) / speed > LONG_GAP_MS;
    if (next.t <= pos || (long && pos >= prev + SHORT_GAP_MS * speed)) {
      if (next.t > pos) {
        P.markers.add(P.shown);
        setPosition(next.t);
        pos = next.t;
      }
      reveal(P.shown);
      continue;
    }
    const target = long ? prev + SHORT_GAP_MS * speed : next.t;
    P.timer = setTimeout(step, Math.max(0, (target - pos) / speed));
    drawClock();
    return;
  }
  // The end: stop where the conversation stopped.
  P.playing = false;
  P.pos = end();
  drawControls();
  drawClock();
}

function play() {
  if (!P.events.length) return;
  if (P.speed === 'instant') {
    showUpTo(P.events.length - 1);
    return;
  }
  if (P.shown >= P.events.length) showUpTo(-1); // from the start again
  setPosition(P.pos);
  P.playing = true;
  drawControls();
  step();
}

function pause() {
  P.pos = position();
  P.playing = false;
  clearTimeout(P.timer);
  P.timer = 0;
  drawControls();
  drawClock();
}

function setSpeed(speed) {
  const was = P.playing;
  if (was) pause();
  P.speed = speed;
  for (const b of P.root.querySelectorAll('.pb-speeds button')) b.setAttribute('aria-pressed', String(b.value === speed));
  if (was || speed === 'instant') play();
}

/** Shows events 0..=k at once (k = -1: none), the position at the last shown. */
function showUpTo(k) {
  P.shown = k + 1;
  P.markers = new Set([...P.markers].filter((i) => i <= k));
  drawTranscript();
  const pos = k >= 0 ? P.events[k].t : 0;
  if (P.playing) {
    setPosition(pos);
    step();
  } else {
    P.pos = pos;
  }
  drawControls();
  drawClock();
}

// ---------- drawing ----------

function agentName(id) {
  const p = P.it && (P.it.participants || []).find((x) => x.agent_id === id);
  return (p && p.display_name) || P.agents.get(id) || 'an agent';
}

function gapText(ms) {
  const m = Math.round(ms / 60_000);
  if (m >= 120) return `${Math.round(m / 60)} h later`;
  if (m >= 1) return `${m} min later`;
  return `${Math.round(ms / 1000)} s later`;
}

function eventNode(i) {
  const e = P.events[i];
  let node;
  if (e.kind === 'note') {
    node = noteNode(e.item, agentName(e.item.author_id));
  } else {
    node = messageNode(e.item, P.it);
  }
  node.dataset.playback = String(i);
  return node;
}

function markerNode(i) {
  const gap = P.events[i].t - (i ? P.events[i - 1].t : 0);
  return el('li', { class: 'pb-skip', role: 'note' }, `⏩ ${gapText(gap)}`);
}

function reveal(i) {
  const ol = $('pb-transcript');
  if (P.markers.has(i)) ol.append(markerNode(i));
  const node = eventNode(i);
  ol.append(node);
  P.shown = i + 1;
  node.scrollIntoView({ block: 'nearest' });
  drawJumpList();
}

function drawTranscript() {
  const ol = $('pb-transcript');
  const nodes = [];
  for (let i = 0; i < P.shown; i += 1) {
    if (P.markers.has(i)) nodes.push(markerNode(i));
    nodes.push(eventNode(i));
  }
  ol.replaceChildren(...nodes);
  drawJumpList();
}

function drawJumpList() {
  const ol = $('pb-jump');
  if (!ol) return;
  ol.replaceChildren(...P.events.map((e, i) => {
    const who = e.kind === 'note' ? 'Note' : e.item.type === 'whisper' ? 'Whisper'
      : e.item.direction === 'in' ? 'Customer' : e.item.direction === 'out' ? 'Agent' : 'System';
    const text = (e.item.text || (e.item.payload && e.item.payload.caption) || `[${e.item.type || e.kind}]`).slice(0, 60);
    return el('li', { class: i < P.shown ? 'shown' : '' },
      el('button', { type: 'button', class: 'link', onclick: () => showUpTo(i), 'aria-current': i === P.shown - 1 ? 'step' : null },
        el('span', { class: 'pb-at' }, fmtDuration(e.t)), ` ${who}: ${text}`));
  }));
}

function drawControls() {
  const b = $('pb-play');
  if (!b) return;
  b.textContent = P.playing ? 'Pause' : P.shown >= P.events.length && P.events.length ? 'Play again' : P.shown ? 'Resume' : 'Play';
  b.setAttribute('aria-pressed', String(P.playing));
}

function drawClock() {
  const c = $('pb-clock');
  if (c) c.textContent = `Elapsed ${fmtDuration(Math.min(position(), end()))} of ${fmtDuration(end())}`;
}

function resultNode(it) {
  const owner = (it.participants || []).find((p) => p.agent_id === it.owner_id) || (it.participants || [])[0];
  const disposition = (it.participants || []).map((p) => p.disposition_code).filter(Boolean).join(', ');
  return el('li', null,
    el('button', { type: 'button', class: 'pb-result', onclick: () => open(it), 'aria-current': P.it && P.it.id === it.id ? 'true' : null },
      el('strong', null, it.customer_display_name || fmtNum(it.customer && it.customer.wa_id)),
      el('span', { class: 'muted' }, ` ${fmtNum(it.customer && it.customer.wa_id)}`),
      el('span', null, ` · ${it.queue_name || it.queue_id} · ${owner ? owner.display_name : 'nobody'}`),
      el('span', { class: 'muted' }, ` · ${fmtDateTime(it.created_at)}`),
      disposition ? el('span', { class: 'pb-disp' }, disposition) : null));
}

// ---------- search and open ----------

/** Results per page; "Load more" asks for the next page after the last one shown. */
const PAGE = 50;

async function search(ev) {
  if (ev) ev.preventDefault();
  const f = new FormData($('pb-form'));
  const q = new URLSearchParams({ state: 'done', all: 'true', limit: String(PAGE) });
  for (const k of ['customer', 'agent_id', 'queue_id', 'disposition']) {
    const v = String(f.get(k) || '').trim();
    if (v) q.set(k, v);
  }
  // Dates are whole days in the browser's time zone: from the start of "from" to the end of "to".
  const from = String(f.get('from') || '');
  const to = String(f.get('to') || '');
  if (from) q.set('from', new Date(`${from}T00:00:00`).toISOString());
  if (to) q.set('to', new Date(new Date(`${to}T00:00:00`).getTime() + 86_400_000).toISOString());
  const seq = ++P.searches;
  let page;
  try {
    page = await api('GET', `/api/v1/interactions?${q}`);
  } catch (e) {
    toast(e.message);
    return;
  }
  if (seq !== P.searches || !P.root) return;
  P.query = q;
  P.results = page;
  $('pb-results').replaceChildren(...page.map(resultNode));
  $('pb-none').hidden = page.length > 0;
  drawMore(page.length);
}

/** The next page of the same search, after the last result shown (keyset paging by `before`). */
async function loadMore() {
  const last = P.results[P.results.length - 1];
  if (!P.query || !last) return;
  const q = new URLSearchParams(P.query);
  q.set('before', last.id);
  const seq = P.searches;
  const btn = $('pb-more');
  btn.disabled = true;
  let page;
  try {
    page = await api('GET', `/api/v1/interactions?${q}`);
  } catch (e) {
    toast(e.message);
    return;
  } finally {
    btn.disabled = false;
  }
  if (seq !== P.searches || !P.root) return;
  P.results.push(...page);
  $('pb-results').append(...page.map(resultNode));
  drawMore(page.length);
}

/** A full page may have more after it: "Load more" then, and how many are shown. */
function drawMore(got) {
  const n = P.results.length;
  $('pb-more').hidden = got < PAGE;
  $('pb-count').textContent = n ? `${n} shown${got < PAGE ? '' : ', more match'}` : '';
}

async function open(it) {
  pause();
  let messages;
  let notes;
  try {
    const r = await api('GET', `/api/v1/interactions/${enc(it.id)}/messages?limit=500`);
    messages = r.messages || [];
    notes = await api('GET', `/api/v1/interactions/${enc(it.id)}/notes`);
  } catch (e) {
    toast(e.message);
    return;
  }
  P.it = it;
  const all = [
    ...messages.map((m) => ({ at: m.created_at, kind: 'message', item: m })),
    ...(notes || []).map((n) => ({ at: n.created_at, kind: 'note', item: n })),
  ];
  all.sort((a, b) => parseTs(a.at) - parseTs(b.at) || (a.item.id < b.item.id ? -1 : a.item.id > b.item.id ? 1 : 0));
  const first = all.length ? parseTs(all[0].at) : 0;
  P.events = all.map((e) => ({ ...e, t: parseTs(e.at) - first }));
  P.shown = 0;
  P.markers = new Set();
  P.pos = 0;
  $('pb-player').hidden = false;
  $('pb-title').textContent = `${it.customer_display_name || fmtNum(it.customer && it.customer.wa_id)} — ${it.queue_name || ''}, ${fmtDateTime(it.created_at)}`;
  drawTranscript();
  drawControls();
  drawClock();
}

/** `#/playback?id=<interaction>` (a report's drill-down links here) opens that one at once. */
async function openFromHash() {
  const m = /[?&]id=([^&]+)/.exec(location.hash);
  if (!m || !P.root || !isSupervisor()) return;
  const id = decodeURIComponent(m[1]);
  if (P.it && P.it.id === id) return;
  try {
    const it = await api('GET', `/api/v1/interactions/${enc(id)}`);
    if (P.root) await open(it);
  } catch (e) {
    toast(e.message);
  }
}

async function loadChoices() {
  if (!isSupervisor()) return;
  openFromHash();
  try {
    const [agents, queues] = await Promise.all([api('GET', '/api/v1/agents'), api('GET', '/api/v1/queues')]);
    P.agents = new Map(agents.map((a) => [a.id, a.display_name]));
    $('pb-agent').replaceChildren(el('option', { value: '' }, 'Any agent'),
      ...agents.filter((a) => a.role !== 'admin').map((a) => el('option', { value: a.id }, a.display_name)));
    $('pb-queue').replaceChildren(el('option', { value: '' }, 'Any queue'), ...queues.map((q) => el('option', { value: q.id }, q.name)));
  } catch (e) {
    toast(e.message);
  }
  search();
}

// ---------- mount ----------

export function mount() {
  const app = $('app-view');
  showWorkspace(false);
  const field = (label, input) => el('label', null, label, input);
  P.root = el('section', { id: 'playback', class: 'playback', 'aria-label': 'Playback' },
    el('form', { id: 'pb-form', class: 'filters', role: 'search', 'aria-label': 'Find ended interactions', onsubmit: search },
      field('Customer number', el('input', { name: 'customer', type: 'search', inputmode: 'tel', placeholder: '+49 151 …' })),
      field('Agent', el('select', { id: 'pb-agent', name: 'agent_id' }, el('option', { value: '' }, 'Any agent'))),
      field('Queue', el('select', { id: 'pb-queue', name: 'queue_id' }, el('option', { value: '' }, 'Any queue'))),
      field('From', el('input', { name: 'from', type: 'date' })),
      field('To', el('input', { name: 'to', type: 'date' })),
      field('Disposition', el('input', { name: 'disposition', type: 'search', placeholder: 'Code' })),
      el('button', { type: 'submit', class: 'primary' }, 'Search')),
    el('div', { class: 'pb-body' },
      el('nav', { class: 'pb-list', 'aria-label': 'Ended interactions' },
        el('h2', null, 'Ended interactions'),
        el('p', { id: 'pb-count', class: 'muted small', role: 'status' }),
        el('ul', { id: 'pb-results', class: 'pb-results' }),
        el('p', { id: 'pb-none', class: 'muted', hidden: true }, 'No ended interaction matches.'),
        el('button', { id: 'pb-more', type: 'button', hidden: true, onclick: () => loadMore() }, 'Load more')),
      el('div', { id: 'pb-player', class: 'pb-player', hidden: true },
        el('h2', { id: 'pb-title' }),
        el('div', { class: 'pb-controls', role: 'toolbar', 'aria-label': 'Playback controls' },
          el('button', { id: 'pb-play', type: 'button', class: 'primary', onclick: () => (P.playing ? pause() : play()) }, 'Play'),
          el('span', { class: 'pb-speeds', role: 'group', 'aria-label': 'Speed' },
            ...SPEEDS.map(([v, label]) => el('button', { type: 'button', value: v, 'aria-pressed': String(v === P.speed), onclick: () => setSpeed(v) }, label))),
          el('span', { id: 'pb-clock', class: 'pb-clock', role: 'timer', 'aria-label': 'Elapsed' })),
        el('p', { class: 'muted pb-hint' }, 'Messages appear with their original gaps at the chosen speed; a silence that would last over 10 s is shortened to 2 s and marked “⏩ … later”. Whispers and notes were never seen by the customer.'),
        el('div', { class: 'pb-panes' },
          el('ol', { id: 'pb-transcript', class: 'transcript pb-transcript', 'aria-label': 'Played transcript' }),
          el('div', { class: 'pb-jump-pane' },
            el('h3', null, 'Jump to'),
            el('ol', { id: 'pb-jump', class: 'pb-jump', 'aria-label': 'Jump to a message' }))))));
  app.append(P.root);
  P.offs.push(on('signedIn', loadChoices));
  window.addEventListener('hashchange', openFromHash);
  P.offs.push(() => window.removeEventListener('hashchange', openFromHash));
  P.ticker = setInterval(() => { if (P.playing) drawClock(); }, 250);
  if (S.me) loadChoices();
}

export function unmount() {
  for (const off of P.offs.splice(0)) off();
  clearInterval(P.ticker);
  clearTimeout(P.timer);
  P.playing = false;
  P.timer = 0;
  P.it = null;
  P.events = [];
  P.shown = 0;
  P.results = [];
  P.query = null;
  if (P.root) P.root.remove();
  P.root = null;
  showWorkspace(true);
}

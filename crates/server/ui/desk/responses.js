// Standard responses in the desk: a Responses panel that searches the library
// (`GET /api/v1/responses`, by words and category) and inserts one into the compose box, and the
// `/` picker: typing `/` at the start of the box or after a space opens a list under the box,
// filtered by what follows (shortcut first, then title); ArrowUp/ArrowDown move, Enter inserts
// (the `/word` replaced), Escape closes and keeps the text.
//
// An inserted response is filled for the interaction by the server; a placeholder without a
// value stays as `{{path}}`, is selected in the box for the agent to fill, and Send is refused
// while one of them remains.
import { sendGuards, updateCounter } from './compose.js';
import { api } from '../lib/api.js';
import { $, el } from '../lib/dom.js';
import { S, myPart } from '../lib/store.js';

const enc = encodeURIComponent;

const R = {
  all: null, // the responses the user may use (for the picker)
  loadedAt: 0,
  loading: null,
  unfilled: new Map(), // interaction id -> Set of `{{path}}` left by inserted responses
  picker: { open: false, items: [], active: 0, start: 0, end: 0 },
};

/** Every response the user may use, fetched at most once a minute. */
function library(fresh = false) {
  if (!fresh && R.all && Date.now() - R.loadedAt < 60_000) return Promise.resolve(R.all);
  if (R.loading) return R.loading;
  R.loading = api('GET', '/api/v1/responses').then((list) => {
    R.all = list;
    R.loadedAt = Date.now();
    return list;
  }).finally(() => { R.loading = null; });
  return R.loading;
}

// ---------- inserting ----------

/** The placeholders inserted into the box of interaction `id` that are still unfilled. */
function remaining(id, text) {
  const set = R.unfilled.get(id);
  if (!set) return [];
  for (const p of [...set]) if (!text.includes(p)) set.delete(p);
  if (!set.size) R.unfilled.delete(id);
  return [...set];
}

/** Selects the first unfilled placeholder at or after `from` (else the first anywhere). */
function selectUnfilled(box, id, from = 0) {
  const list = remaining(id, box.value);
  let best = null;
  for (const p of list) {
    let at = box.value.indexOf(p, from);
    if (at < 0) at = box.value.indexOf(p);
    if (at >= 0 && (best === null || at < best.at)) best = { at, p };
  }
  if (!best) return false;
  box.focus();
  box.setSelectionRange(best.at, best.at + best.p.length);
  return true;
}

/**
 * Inserts response `r` filled for the selected interaction into the compose box, replacing
 * `[start, end)` of its text (the `/word` of the picker; the selection for the panel).
 */
export async function insertResponse(r, start, end) {
  const id = S.selected;
  const box = $('compose-text');
  const errEl = $('compose-error');
  if (!id || box.disabled) {
    errEl.textContent = 'Open an active interaction to insert a response.';
    return false;
  }
  let filled;
  try {
    filled = await api('GET', `/api/v1/interactions/${enc(id)}/responses/${enc(r.id)}`);
  } catch (e) {
    errEl.textContent = `Could not insert “${r.title}”: ${e.message}`;
    return false;
  }
  if (S.selected !== id) return false;
  const v = box.value;
  const s = Math.min(start, v.length);
  const e = Math.min(Math.max(end, s), v.length);
  box.value = v.slice(0, s) + filled.text + v.slice(e);
  S.drafts.set(id, box.value);
  if (filled.missing.length) {
    const set = R.unfilled.get(id) || new Set();
    for (const m of filled.missing) set.add(`{{${m}}}`);
    R.unfilled.set(id, set);
  }
  updateCounter();
  errEl.textContent = '';
  errEl.dataset.kind = '';
  if (!selectUnfilled(box, id, s)) {
    box.focus();
    const caret = s + filled.text.length;
    box.setSelectionRange(caret, caret);
  } else {
    errEl.dataset.kind = 'placeholder';
    errEl.textContent = `Fill in ${remaining(id, box.value).join(', ')} before sending (selected in the message).`;
  }
  return true;
}

/** A send guard (see `sendGuards`): refused while an inserted placeholder is still in the text. */
function unfilledGuard(text) {
  const id = S.selected;
  const left = id ? remaining(id, text) : [];
  if (!left.length) return null;
  selectUnfilled($('compose-text'), id);
  return `Not sent: fill in ${left.join(', ')} first (selected in the message). Your text is kept.`;
}

/** Adds the Responses panel and the send guard to the desk (called by its mount). */
export function mountResponses(Panels) {
  Panels.register(responsesPanel);
  if (!sendGuards.includes(unfilledGuard)) sendGuards.push(unfilledGuard);
}

export function unmountResponses(Panels) {
  Panels.unregister(responsesPanel);
}

// ---------- the `/` picker ----------

const box = $('compose-text');
const list = el('ul', { id: 'response-picker', class: 'response-picker', role: 'listbox', 'aria-label': 'Standard responses', hidden: true });
$('compose').append(list);

/** The `/word` being typed at the caret (at the start or after whitespace), if any. */
function slashWord() {
  if (box.selectionStart !== box.selectionEnd) return null;
  const before = box.value.slice(0, box.selectionStart);
  const m = /(^|\s)\/([^\s/]*)$/.exec(before);
  if (!m) return null;
  const start = before.length - m[2].length - 1;
  return { word: m[2].toLowerCase(), start, end: box.selectionStart };
}

/** Responses for `word`: shortcuts starting with it first, then titles containing it. */
function candidates(all, word) {
  const w = word.toLowerCase();
  const byShortcut = all.filter((r) => r.shortcut && r.shortcut.startsWith(w));
  const byTitle = all.filter((r) => !byShortcut.includes(r) && r.title.toLowerCase().includes(w));
  return [...byShortcut, ...byTitle].slice(0, 8);
}

function closePicker() {
  R.picker.open = false;
  list.hidden = true;
  list.replaceChildren();
  box.removeAttribute('aria-activedescendant');
}

function drawPicker() {
  const p = R.picker;
  if (!p.items.length) {
    list.replaceChildren(el('li', { class: 'muted', role: 'presentation' }, 'No response matches.'));
    box.removeAttribute('aria-activedescendant');
  } else {
    list.replaceChildren(...p.items.map((r, i) => el('li', {
      id: `response-option-${i}`,
      role: 'option',
      class: 'response-option',
      'aria-selected': i === p.active ? 'true' : 'false',
      onmousedown: (e) => { e.preventDefault(); choose(i); },
    },
    r.shortcut ? el('span', { class: 'response-shortcut' }, `/${r.shortcut}`) : null,
    el('span', { class: 'response-title' }, r.title),
    el('span', { class: 'response-preview muted small' }, r.text.length > 80 ? `${r.text.slice(0, 80)}…` : r.text))));
    box.setAttribute('aria-activedescendant', `response-option-${p.active}`);
    const active = list.children[p.active];
    if (active && active.scrollIntoView) active.scrollIntoView({ block: 'nearest' });
  }
  list.hidden = false;
}

async function updatePicker() {
  const at = slashWord();
  if (!at || box.disabled) { closePicker(); return; }
  let all;
  try { all = await library(); } catch { closePicker(); return; }
  // The text may have changed while the library loaded.
  const now = slashWord();
  if (!now) { closePicker(); return; }
  const p = R.picker;
  const items = candidates(all, now.word);
  if (!p.open || items.map((r) => r.id).join() !== p.items.map((r) => r.id).join()) p.active = 0;
  Object.assign(p, { open: true, items, start: now.start, end: now.end });
  drawPicker();
}

async function choose(i) {
  const p = R.picker;
  const r = p.items[i];
  if (!r) return;
  const { start, end } = p;
  closePicker();
  await insertResponse(r, start, end);
}

box.setAttribute('aria-controls', 'response-picker');
// The box stays a textbox (ARIA gives a textbox aria-activedescendant and aria-autocomplete).
box.setAttribute('aria-autocomplete', 'list');
box.addEventListener('input', () => {
  updatePicker();
  // The refusal goes once every inserted placeholder is filled.
  const errEl = $('compose-error');
  if (errEl.dataset.kind === 'placeholder' && !(S.selected && remaining(S.selected, box.value).length)) {
    errEl.textContent = '';
    errEl.dataset.kind = '';
  }
});
box.addEventListener('click', () => { if (R.picker.open) updatePicker(); });
box.addEventListener('blur', () => closePicker());
// Captured on the form, so the picker's keys never reach the box's own (Enter sends there).
$('compose').addEventListener('keydown', (e) => {
  if (e.target !== box || !R.picker.open) return;
  const p = R.picker;
  const n = p.items.length;
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    e.stopPropagation();
    if (n) p.active = (p.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
    drawPicker();
  } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && n) {
    e.preventDefault();
    e.stopPropagation();
    choose(p.active);
  } else if (e.key === 'Escape') {
    e.preventDefault();
    e.stopPropagation();
    closePicker();
  }
}, true);

// ---------- the Responses panel ----------

export const responsesPanel = {
  id: 'responses',
  title: 'Responses',
  render(it, body) {
    if (this.builtFor !== body) {
      this.builtFor = body; // built again in a new body (the desk mounted anew)
      this.key = null;
      this.q = el('input', { id: 'responses-q', type: 'search', autocomplete: 'off', placeholder: 'Title, text or shortcut' });
      this.category = el('select', { id: 'responses-category' }, el('option', { value: '' }, 'All categories'));
      this.status = el('p', { class: 'muted small', role: 'status' });
      this.results = el('ul', { class: 'responses-list', 'aria-label': 'Standard responses found' });
      const form = el('form', { class: 'responses-search', role: 'search', 'aria-label': 'Search standard responses' },
        el('label', { for: 'responses-q' }, 'Search responses'), this.q,
        el('label', { for: 'responses-category' }, 'Category'), this.category,
        el('button', { type: 'submit' }, 'Search'));
      form.addEventListener('submit', (e) => { e.preventDefault(); search(); });
      this.category.addEventListener('change', () => search());
      body.replaceChildren(
        form,
        el('p', { class: 'muted small' }, 'Tip: type / in the message box to pick a response by its shortcut.'),
        this.status, this.results);
      search();
    }
    // Insert works in an active interaction only: redrawn when that changes.
    const p = it && myPart(it);
    this.canInsert = !!it && it.state === 'active' && !!p && p.state === 'active';
    const key = `${it ? it.id : ''}:${this.canInsert}`;
    if (key !== this.key) {
      this.key = key;
      drawResults();
    }
  },
};

async function search() {
  const P = responsesPanel;
  const q = P.q.value.trim();
  const category = P.category.value;
  let url = '/api/v1/responses';
  const params = new URLSearchParams();
  if (q) params.set('q', q);
  if (category) params.set('category', category);
  if (params.toString()) url += `?${params}`;
  P.status.textContent = 'Searching…';
  try {
    P.found = await api('GET', url);
    if (!q && !category) {
      R.all = P.found;
      R.loadedAt = Date.now();
      // The categories to pick from are those of the whole library.
      const cats = [...new Set(P.found.map((r) => r.category).filter(Boolean))].sort((a, b) => a.localeCompare(b));
      P.category.replaceChildren(el('option', { value: '' }, 'All categories'), ...cats.map((c) => el('option', { value: c }, c)));
    }
    drawResults();
  } catch (e) {
    P.status.textContent = `Could not search: ${e.message}`;
  }
}

function drawResults() {
  const P = responsesPanel;
  const found = P.found || [];
  P.status.textContent = found.length ? `${found.length} ${found.length === 1 ? 'response' : 'responses'}` : 'No response found.';
  const active = !!P.canInsert;
  P.results.replaceChildren(...found.map((r) => el('li', { class: 'response-item' },
    el('div', { class: 'response-head' },
      el('strong', null, r.title),
      r.shortcut ? el('span', { class: 'response-shortcut' }, ` /${r.shortcut}`) : null,
      r.category ? el('span', { class: 'badge' }, r.category) : null),
    el('p', { class: 'response-text small' }, r.text),
    el('button', {
      type: 'button',
      disabled: !active,
      title: active ? null : 'Open an active interaction first',
      'aria-label': `Insert ${r.title}`,
      onclick: () => {
        const b = $('compose-text');
        insertResponse(r, b.selectionStart, b.selectionEnd);
      },
    }, 'Insert'))));
}

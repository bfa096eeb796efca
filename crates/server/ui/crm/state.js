// The CRM's state and small helpers shared by its panels and dialogs.
import { failureReason } from '../desk/transcript.js';
import { el } from '../lib/dom.js';
import { fmtNum } from '../lib/format.js';

export const CRM = {
  pops: new Map(), // interaction id -> its screen pop (the last answer)
  popLoads: new Map(), // interaction id -> the request under way
  popTried: new Set(), // interaction ids the list asked a screen pop for
  shownKey: null, // `${interaction id}|${contact id}` the contact panel shows
  mode: 'view', // contact panel: view | edit | relink | phone | case | merge
  convs: null, // the communication list (last answer)
  convsAt: 0,
  history: null, // the history dialog's state
  tpl: null, // the template dialog's state
  start: null, // the new-conversation dialog's state
};

export const enc = encodeURIComponent;

// ---------- small helpers ----------

/** `text` as nodes with every word of `words` (as a prefix of a word) in <mark>. */
export function highlighted(text, words) {
  const s = String(text || '');
  const list = (words || []).filter(Boolean).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  if (!list.length) return [s];
  const re = new RegExp(`(^|[^\\p{L}\\p{N}])(${list.join('|')})`, 'giu');
  const out = [];
  let last = 0;
  for (const m of s.matchAll(re)) {
    const start = m.index + m[1].length;
    if (start > last) out.push(s.slice(last, start));
    out.push(el('mark', null, m[2]));
    last = start + m[2].length;
  }
  if (last < s.length) out.push(s.slice(last));
  return out;
}

/** Highlights `words` in the text nodes under `root` (after it was drawn). */
export function markWords(root, words) {
  if (!words || !words.length) return;
  for (const p of root.querySelectorAll('.text')) {
    if (p.querySelector('mark')) continue;
    const nodes = highlighted(p.textContent, words);
    if (nodes.length > 1) p.replaceChildren(...nodes);
  }
}

export const contactLabel = (c) => (c ? c.name || (c.phones && c.phones[0] && fmtNum(c.phones[0].number)) || 'Contact' : '');

export const PHONE_STATE = {
  ok: ['ok', '✓', 'can receive'],
  failed: ['failed', '⚠', 'last send failed'],
  unknown: ['unknown', '·', 'not checked yet'],
};

export function phoneItem(p) {
  const [cls, sym, label] = PHONE_STATE[p.status] || PHONE_STATE.unknown;
  const err = p.status === 'failed' && p.last_send && p.last_send.error ? failureReason(p.last_send.error) : '';
  return el('li', { class: `crm-phone ${cls}` },
    el('span', { class: 'crm-phone-num' }, fmtNum(p.number)), ' ',
    el('span', { class: `crm-state ${cls}` }, el('span', { 'aria-hidden': 'true' }, sym), ` ${label}`),
    err ? el('span', { class: 'crm-state-reason' }, err) : null);
}

// The desk's Notes panel (R-3.7): the selected interaction's private notes, listed and added,
// live through `note.created` for everyone who sees the interaction. Notes are never sent to
// the customer; `noteNode` draws one the same way wherever notes appear (history, playback).
import { api } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { fmtDateTime, fmtTime } from '../lib/format.js';
import { S } from '../lib/store.js';

const enc = encodeURIComponent;

/** One private note as a transcript item: `author` is a name (or null). */
export function noteNode(n, author) {
  return el('li', { class: 'msg note', dataset: { note: n.id } },
    el('div', { class: 'bubble' },
      el('span', { class: 'author' }, `🔒 Private note${author ? ` by ${author}` : ''}`),
      el('p', { class: 'text' }, n.text || ''),
      el('span', { class: 'meta' }, el('span', { class: 'muted' }, 'Not seen by the customer'), ' ',
        el('time', { datetime: n.created_at, title: fmtDateTime(n.created_at) }, fmtTime(n.created_at)))));
}

/** The name of user `id` as the desk knows it (the interaction's agents, the directory). */
export function userName(id, it) {
  if (S.me && id === S.me.id) return 'you';
  const p = it && (it.participants || []).find((x) => x.agent_id === id);
  if (p && p.display_name) return p.display_name;
  const d = S.directory && (S.directory.agents || []).find((a) => a.id === id);
  return (d && (d.display_name || d.name)) || null;
}

const N = { sel: null, notes: [], loading: null };

export const notesPanel = {
  id: 'notes',
  title: 'Notes',
  render(it, body) {
    if (this.builtFor !== body) {
      this.builtFor = body; // built again in a new body (the desk mounted anew)
      N.sel = undefined;
      this.text = el('textarea', { id: 'note-text', rows: '2', placeholder: 'Only agents and supervisors see notes', 'aria-describedby': 'note-hint' });
      this.status = el('p', { class: 'muted small', role: 'status' });
      this.error = el('p', { class: 'error', role: 'alert' });
      this.list = el('ol', { class: 'transcript notes-list', 'aria-label': 'Private notes' });
      this.form = el('form', { class: 'note-form', 'aria-label': 'New note' },
        el('label', { for: 'note-text' }, 'Add a private note'),
        this.text,
        el('p', { id: 'note-hint', class: 'muted small' }, 'Private: kept with the interaction and shown in its history, never sent to the customer.'),
        this.error,
        el('button', { type: 'submit' }, 'Add note'));
      this.form.addEventListener('submit', (e) => { e.preventDefault(); addNote(); });
      this.text.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); addNote(); }
      });
      this.empty = el('p', { class: 'muted small' }, 'Select an interaction to see its notes.');
      body.replaceChildren(this.empty, this.status, this.list, this.form);
    }
    const sel = it ? it.id : null;
    this.empty.hidden = !!sel;
    this.form.hidden = !sel;
    this.list.hidden = !sel;
    if (sel !== N.sel) {
      N.sel = sel;
      N.notes = [];
      this.list.replaceChildren();
      this.error.textContent = '';
      this.text.value = '';
      if (sel) loadNotes(sel);
      else this.status.textContent = '';
    }
  },
};

async function loadNotes(id) {
  notesPanel.status.textContent = 'Loading notes…';
  try {
    const notes = await api('GET', `/api/v1/interactions/${enc(id)}/notes`);
    if (N.sel !== id) return;
    // Live notes that came while loading are kept.
    for (const n of notes) addToList(n);
    drawCount();
  } catch (e) {
    if (N.sel === id) notesPanel.status.textContent = `Could not load the notes: ${e.message}`;
  }
}

function drawCount() {
  const n = N.notes.length;
  notesPanel.status.textContent = n ? `${n} private ${n === 1 ? 'note' : 'notes'}` : 'No notes yet.';
}

function addToList(n) {
  if (N.notes.some((x) => x.id === n.id)) return;
  N.notes.push(n);
  N.notes.sort((a, b) => a.created_at.localeCompare(b.created_at));
  const it = S.interactions.get(n.interaction_id);
  const node = noteNode(n, userName(n.author_id, it));
  const after = N.notes[N.notes.indexOf(n) + 1];
  const before = after && notesPanel.list.querySelector(`[data-note="${CSS.escape(after.id)}"]`);
  notesPanel.list.insertBefore(node, before || null);
}

async function addNote() {
  const id = N.sel;
  const text = notesPanel.text.value.trim();
  notesPanel.error.textContent = '';
  if (!id || !text) return;
  const btn = notesPanel.form.querySelector('button[type=submit]');
  btn.disabled = true;
  try {
    const n = await api('POST', `/api/v1/interactions/${enc(id)}/notes`, { text });
    if (N.sel === id) {
      notesPanel.text.value = '';
      addToList(n);
      drawCount();
    }
  } catch (e) {
    if (N.sel === id) notesPanel.error.textContent = `Not added: ${e.message}. Your text is kept.`;
  } finally {
    btn.disabled = false;
  }
}

/** Bus `event`: a note added to the open interaction (by anyone who sees it) appears at once. */
export function onNoteEvent(f) {
  if (f.type !== 'note.created' || !f.data || f.data.interaction_id !== N.sel) return;
  addToList(f.data);
  drawCount();
}

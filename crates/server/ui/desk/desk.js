// The agent desk screen: mount/unmount, the websocket, timers, the side panels.
import { onEvent } from './events.js';
import { outsideWindow, pastSla, renderList } from './list.js';
import { notesPanel, onNoteEvent } from './notes.js';
import { mountResponses, unmountResponses } from './responses.js';
import { showLogin, start } from './session.js';
import { renderConversation } from './transcript.js';
import { api } from '../lib/api.js';
import { $, el } from '../lib/dom.js';
import { fmtDuration, parseTs } from '../lib/format.js';
import { S } from '../lib/store.js';
import * as ws from '../lib/ws.js';
import { on } from '../lib/bus.js';

// ---------- websocket ----------

export function closeWs() {
  ws.close();
  $('reconnect-banner').hidden = true;
}

export function connectWs() {
  ws.connect({
    token: S.token,
    onEvent,
    onStatus(state, info) {
      if (state === 'open') {
        $('reconnect-banner').hidden = true;
        $('conn').textContent = 'Live';
        $('conn').className = 'conn ok';
      } else if (state === 'closed') {
        $('conn').textContent = '';
        if (!S.token) return false;
        // The session ended (logged out elsewhere): the answer shows the login.
        if (info.code === 1008) api('GET', '/api/v1/me').catch(() => {});
      } else if (state === 'retrying') {
        const banner = $('reconnect-banner');
        banner.hidden = false;
        banner.textContent = `Reconnecting… (next attempt in ${Math.round(info.delay / 1000)} s)`;
      }
      return true;
    },
  });
}

// ---------- timers ----------

export function tick() {
  const now = Date.now();
  for (const e of document.querySelectorAll('[data-since]')) {
    const t = parseTs(e.dataset.since);
    e.textContent = t ? fmtDuration(now - t) : '';
  }
  for (const e of document.querySelectorAll('[data-deadline]')) {
    const t = parseTs(e.dataset.deadline);
    e.textContent = t ? fmtDuration(t - now) : '';
    e.classList.toggle('urgent', !!t && t - now < 10000);
  }
  // The 24-hour window may close while the interaction is open.
  const it = S.selected && S.interactions.get(S.selected);
  if (it && outsideWindow(it) === $('window-notice').hidden) renderConversation();
  // An unanswered customer may pass the queue's response target while nothing else changes.
  let slaChanged = false;
  for (const x of S.interactions.values()) {
    const v = pastSla(x, now);
    if (v !== !!x.past_sla_shown) slaChanged = true;
  }
  if (slaChanged) renderList();
}

// Esc closes dialogs natively; keep focus sensible after they close.
$('target-dialog').addEventListener('close', () => { const b = $('btn-transfer'); if (!b.hidden && !b.disabled) b.focus(); });
$('wrap-dialog').addEventListener('close', () => {
  S.wrapFor = null;
  // Back to where the agent works: the interaction's Wrap-up… button, else the list.
  const a = document.activeElement;
  if (a && a !== document.body && !$('wrap-dialog').contains(a)) return;
  const b = $('btn-wrapup');
  if (!$('conv').hidden && !b.hidden) b.focus();
  else (document.querySelector('#interaction-list .item') || $('status-select')).focus();
});

// Back in the foreground: what the agent now sees of the selected interaction is read.
function onVisibility() {
  if (S.me) renderList();
  if (document.hidden || !S.selected) return;
  const it = S.interactions.get(S.selected);
  if (it && it.unread > 0) api('POST', `/api/v1/interactions/${encodeURIComponent(S.selected)}/read`).catch(() => {});
}

// ---------- side panels ----------

/**
 * The region beside the conversation for panels about the selected interaction (contact/screen
 * pop, history, search, templates). A panel is `{id, title, render(interaction, body)}`; the
 * region shows only while at least one panel is registered.
 */
export const Panels = {
  list: [],
  register(panel) {
    this.list.push(panel);
    const body = el('div', { class: 'panel-body' });
    const section = el('section', { class: 'panel', id: `panel-${panel.id}`, 'aria-labelledby': `panel-${panel.id}-title` },
      el('h2', { class: 'pane-title', id: `panel-${panel.id}-title` }, panel.title), body);
    panel.body = body;
    $('side-panel').append(section);
    $('side-panel').hidden = false;
    document.querySelector('.workspace').classList.add('with-side');
  },
  unregister(panel) {
    this.list = this.list.filter((p) => p !== panel);
    const section = $(`panel-${panel.id}`);
    if (section) section.remove();
    if (!this.list.length) {
      $('side-panel').hidden = true;
      document.querySelector('.workspace').classList.remove('with-side');
    }
  },
  render(it) {
    for (const p of this.list) {
      try { p.render(it || null, p.body); } catch (e) { console.error(e); }
    }
  },
};

// ---------- mount / unmount ----------

const M = { timer: null, offs: [] };

/**
 * Shows the desk in the page: the login when there is no session, else the agent's state loaded
 * over REST and then kept by the websocket. `ctx` is the router's (unused by the desk today).
 */
export function mount(_root, _ctx) {
  M.timer = setInterval(tick, 1000);
  document.addEventListener('visibilitychange', onVisibility);
  M.offs.push(on('sessionEnded', (message) => showLogin(message)));
  // The desk's own panels, after the CRM's (mounted first).
  mountResponses(Panels);
  Panels.register(notesPanel);
  M.offs.push(on('event', onNoteEvent));
  if (S.token) start(); else showLogin('');
}

/** Stops the desk's timers, listeners and websocket (the page's DOM stays). */
export function unmount() {
  clearInterval(M.timer);
  document.removeEventListener('visibilitychange', onVisibility);
  for (const off of M.offs.splice(0)) off();
  unmountResponses(Panels);
  Panels.unregister(notesPanel);
  closeWs();
}

/**
 * Shows or hides the desk's workspace (list, conversation, panels). A screen mounted over the desk
 * (board, audit log, playback, reports, admin) hides it while it is open: the desk's login,
 * header, socket and offers stay.
 */
export function showWorkspace(shown) {
  const ws = $('app-view').querySelector('.workspace');
  if (ws) ws.hidden = !shown;
}

// The admin console (route #/admin, admins only; an admin lands here after login): one screen
// with a side menu of sections — users, queues, break reasons, channels, templates, standard
// responses, integration tokens, settings, system (readiness and nodes). Each section is a
// module with `label` and `render(box, C)`; `C` holds the queues and users every section picks from. Like the board it
// keeps the desk mounted under it (login, header, socket) and hides the desk's workspace.
import { api } from '../lib/api.js';
import { on } from '../lib/bus.js';
import { $, el } from '../lib/dom.js';
import { S } from '../lib/store.js';
import * as agents from './agents.js';
import * as breaks from './breaks.js';
import * as channels from './channels.js';
import * as queues from './queues.js';
import * as responses from './responses.js';
import * as settings from './settings.js';
import * as system from './system.js';
import * as templates from './templates.js';
import * as tokens from './tokens.js';
import { showWorkspace } from '../desk/desk.js';

const SECTIONS = [
  ['agents', agents], ['queues', queues], ['breaks', breaks], ['channels', channels],
  ['templates', templates], ['responses', responses], ['tokens', tokens], ['settings', settings],
  ['system', system],
];

/** The console's shared state: the queues and users the sections pick from. */
const C = {
  root: null, section: 'agents', queues: [], users: [], offs: [],
  queueName: (id) => (C.queues.find((q) => q.id === id) || {}).name || id,
  userName: (id) => { const u = C.users.find((x) => x.id === id); return u ? u.display_name || u.username : id; },
  /** Reads the queues and users again (after a change a section made). */
  async refresh() {
    const [q, u] = await Promise.all([api('GET', '/api/v1/queues'), api('GET', '/api/v1/agents')]);
    C.queues = q;
    C.users = u;
  },
};

function drawMenu() {
  const menu = $('admin-menu');
  menu.replaceChildren(...SECTIONS.map(([id, m]) => el('li', null, el('button', {
    type: 'button', id: `admin-tab-${id}`, 'aria-current': id === C.section ? 'page' : null,
    onclick: () => open(id),
  }, m.label))));
}

async function open(id) {
  C.section = id;
  drawMenu();
  const box = $('admin-section');
  const [, m] = SECTIONS.find(([s]) => s === id);
  box.replaceChildren(el('h2', { id: 'admin-section-title', tabindex: '-1' }, m.label), el('p', { class: 'muted' }, 'Loading…'));
  box.setAttribute('aria-labelledby', 'admin-section-title');
  try {
    await C.refresh();
    if (C.section !== id || !C.root) return;
    box.replaceChildren(el('h2', { id: 'admin-section-title', tabindex: '-1' }, m.label));
    await m.render(box, C);
  } catch (e) {
    box.append(el('p', { class: 'error', role: 'alert' }, e.message));
  }
}

function start() {
  if (!S.me || S.me.role !== 'admin' || C.root) return;
  const app = $('app-view');
  showWorkspace(false);
  C.root = el('section', { id: 'admin', class: 'admin', 'aria-label': 'Admin console' },
    el('nav', { class: 'admin-nav', 'aria-label': 'Admin sections' },
      el('h2', null, 'Admin'), el('ul', { id: 'admin-menu' })),
    el('div', { id: 'admin-section', class: 'admin-section', role: 'region' }));
  app.append(C.root);
  open(C.section);
}

export function mount() {
  C.offs.push(on('signedIn', start));
  if (S.me) start();
}

export function unmount() {
  for (const off of C.offs.splice(0)) off();
  if (C.root) C.root.remove();
  C.root = null;
  showWorkspace(true);
}

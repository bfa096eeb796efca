// System: is this installation ready, which nodes run it and which one is the router,
// what the answering node's copy of the routing state holds. Read from `GET /readyz` and
// `GET /api/v1/cluster`, again every 5 seconds while the section is open.
import { api } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { buttons, when } from './kit.js';

export const label = 'System';

const EVERY_MS = 5000;

/** "12 s ago" for an instant up to a minute old, else the local time. */
function ago(iso, now) {
  if (!iso) return '—';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  return s >= 0 && s < 60 ? `${s} s ago` : when(iso);
}

async function readiness() {
  try {
    const r = await api('GET', '/readyz');
    return { ok: true, text: `Ready (${r.database === 'postgres' ? 'PostgreSQL' : 'SQLite'})` };
  } catch (e) {
    return { ok: false, text: `Not ready: ${e.message}` };
  }
}

export async function render(box, C) {
  const status = el('p', { class: 'system-ready', role: 'status' });
  const table = el('table', { class: 'grid system-nodes' },
    el('caption', null, 'Nodes seen in the last minute'),
    el('thead', null, el('tr', null, ...['Node', 'Role', 'Started', 'Last seen'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody'));
  const replica = el('p', { class: 'muted system-replica' });
  const checked = el('p', { class: 'muted small' });

  async function draw() {
    const [ready, cluster] = await Promise.all([readiness(), api('GET', '/api/v1/cluster')]);
    const now = Date.now();
    status.className = `system-ready ${ready.ok ? 'good' : 'bad'}`;
    status.textContent = ready.text;
    const several = cluster.nodes.length > 1 || cluster.nodes.some((n) => n.started_at);
    table.tBodies[0].replaceChildren(...cluster.nodes.map((n) => el('tr', { 'data-node': n.id },
      el('th', { scope: 'row' }, n.id, n.this_node ? el('span', { class: 'muted' }, ' (this page’s node)') : null),
      el('td', null, n.router ? el('span', { class: 'pill good' }, 'Router') : 'Forwards to the router'),
      el('td', null, n.started_at ? when(n.started_at) : '—'),
      el('td', null, ago(n.last_seen_at, now)))));
    if (!several) {
      replica.textContent = 'One node: it is the router. Several nodes share one PostgreSQL database and NATS (cluster.nats_url).';
    } else if (cluster.replica) {
      const r = cluster.replica;
      replica.textContent = `This page’s node holds the router’s commit ${r.commit} of lease epoch ${r.epoch}; it loaded the routing state whole ${r.loads} ${r.loads === 1 ? 'time' : 'times'} (at start, after being the router, or after a gap in the relayed commits).`;
    } else {
      replica.textContent = 'This page’s node is the router.';
    }
    checked.textContent = `Checked ${new Date(now).toLocaleTimeString()}; checked again every ${EVERY_MS / 1000} s while this section is open.`;
  }

  async function tick() {
    if (!box.isConnected || C.section !== 'system') return;
    try {
      await draw();
    } catch (e) {
      status.className = 'system-ready bad';
      status.textContent = `Cannot read the cluster: ${e.message}`;
    }
    setTimeout(tick, EVERY_MS);
  }

  box.append(status, table, replica, checked,
    buttons(['Check now', { onclick: () => draw().catch((e) => { status.textContent = e.message; }) }]));
  await draw();
  setTimeout(tick, EVERY_MS);
}

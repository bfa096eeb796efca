// Who is viewing (R-8.10): the desk tells the server which interaction is open here
// (`PUT …/viewing` when one is selected, `DELETE` when it is left, again on every socket's
// `hello`: presence ends when the socket closes) and shows "Also viewing: …" in its header from
// the live `interaction.viewers` events. The server never names a supervisor who only watches to
// an agent; the user's own name is left out here.
import { api } from '../lib/api.js';
import { $ } from '../lib/dom.js';
import { S } from '../lib/store.js';

const V = {
  lists: new Map(), // interaction id -> [{id, name, watching}]
  current: null, // the interaction this page told the server it has open
};

const path = (id) => `/api/v1/interactions/${encodeURIComponent(id)}/viewing`;

/** Keeps the server told what the desk has open (`S.selected`); called whenever it may change. */
export function syncViewing() {
  const want = S.selected || null;
  if (want === V.current) return;
  const old = V.current;
  V.current = want;
  if (old) api('DELETE', path(old)).catch(() => {});
  if (want) announce(want);
}

function announce(id) {
  api('PUT', path(id)).then((v) => {
    if (v && v.interaction_id) setViewers(v.interaction_id, v.viewers || []);
  }).catch(() => {});
}

/** A socket (re)opened (`hello`): what was open before it is said again. */
export function reannounce() {
  if (V.current) announce(V.current);
}

/** Forgets everything (logout, a new session). */
export function resetViewers() {
  V.lists.clear();
  V.current = null;
}

/** `interaction.viewers`, or an answer naming the viewers of an interaction. */
export function setViewers(id, viewers) {
  V.lists.set(id, viewers);
  if (id === S.selected) renderViewers($('conv-viewers'), id);
}

/** The other users who have `id` open. */
export function othersViewing(id) {
  const me = S.me && S.me.id;
  return (V.lists.get(id) || []).filter((v) => v.id !== me);
}

/** Writes "Also viewing: …" for `id` into `node` (hidden when nobody else has it open). */
export function renderViewers(node, id) {
  if (!node) return;
  const others = id ? othersViewing(id) : [];
  node.hidden = !others.length;
  node.textContent = others.length
    ? `Also viewing: ${others.map((v) => (v.watching ? `${v.name} (watching)` : v.name)).join(', ')}`
    : '';
}

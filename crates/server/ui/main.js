// Switchboard's desktop in the browser: ES modules, no build step. This file is the router: a
// table of routes, each with the roles that may open it and the screens it mounts (a screen
// module exports `mount(root, ctx)` and `unmount()`). A route is the hash `#/<path>`; any other
// hash (e.g. the skip link's `#transcript`) is left to the page. Today every role opens the desk.
//
// A new screen (monitor, reports, admin, audit) is a folder beside `desk/` with its module(s) and
// CSS, and one row here: `{ path: 'monitor', roles: ['supervisor', 'admin'], screens: () => [...] }`.
import * as crm from './crm/crm.js';
import * as desk from './desk/desk.js';
import * as watch from './watch/watch.js';
import { on } from './lib/bus.js';
import { S } from './lib/store.js';
import { socket } from './lib/ws.js';

export const ROUTES = [
  // The CRM mounts first: its panels and bus listeners are there before the desk draws anything.
  // The watch (supervisors and admins only) adds the live interactions and a read-only view.
  { path: 'desk', roles: ['agent', 'supervisor', 'admin'], screens: () => [crm, desk, watch] },
];
const DEFAULT = 'desk';

/** The route `path` names, if the signed-in user's role may open it (any role before login). */
export function routeFor(path, role = S.me && S.me.role) {
  const r = ROUTES.find((x) => x.path === path);
  if (!r) return null;
  return !role || r.roles.includes(role) ? r : null;
}

const R = { route: null, mounted: [] };

function pathOfHash() {
  const h = location.hash;
  return h.startsWith('#/') ? h.slice(2) : null;
}

function show(path) {
  const route = routeFor(path) || routeFor(DEFAULT);
  if (!route || route === R.route) return;
  for (const s of R.mounted.splice(0).reverse()) s.unmount();
  R.route = route;
  const ctx = { route: route.path, navigate };
  for (const s of route.screens()) {
    s.mount(document.body, ctx);
    R.mounted.push(s);
  }
}

/** Opens the route `path` (through the hash, so Back works). */
export function navigate(path) {
  location.hash = `#/${path}`;
}

// For the browser's console and the browser tests only (no module reads it): the state and the
// websocket of the page.
window.switchboard = { S, socket, navigate };

/** The routes the role `role` may open (for a menu of screens). */
export function routesFor(role) {
  return ROUTES.filter((r) => r.roles.includes(role));
}

// Before login any route shows (the desk holds the login); once the role is known, a route it
// may not open gives way to the default.
on('signedIn', () => {
  if (R.route && !routeFor(R.route.path)) show(DEFAULT);
});

window.addEventListener('hashchange', () => {
  const p = pathOfHash();
  if (p !== null) show(p);
});
show(pathOfHash() || DEFAULT);

// Switchboard's desktop in the browser: ES modules, no build step. This file is the router: a
// table of routes, each with the roles that may open it and the screens it mounts (a screen
// module exports `mount(root, ctx)` and `unmount()`). A route is the hash `#/<path>`; any other
// hash (e.g. the skip link's `#transcript`) is left to the page.
//
// A new screen (reports, admin, audit) is a folder beside `desk/` with its module(s) and CSS, and
// one row here: `{ path: 'reports', label: 'Reports', roles: ['supervisor', 'admin'], screens: () => [...] }`;
// the header's menu lists the routes the role may open.
import * as admin from './admin/admin.js';
import * as audit from './audit/audit.js';
import * as crm from './crm/crm.js';
import * as desk from './desk/desk.js';
import * as board from './monitor/board.js';
import * as playback from './playback/playback.js';
import * as reports from './reports/reports.js';
import * as watch from './watch/watch.js';
import { on } from './lib/bus.js';
import { S } from './lib/store.js';
import { socket } from './lib/ws.js';

export const ROUTES = [
  // The CRM mounts first: its panels and bus listeners are there before the desk draws anything.
  // The watch (supervisors and admins only) adds the live interactions and a read-only view.
  { path: 'desk', label: 'Desk', roles: ['agent', 'supervisor', 'admin'], screens: () => [crm, desk, watch] },
  // The board keeps the desk mounted under it: its login, header, websocket and offers.
  { path: 'monitor', label: 'Board', roles: ['supervisor', 'admin'], screens: () => [crm, desk, watch, board] },
  // The audit log keeps the desk mounted under it too, like the board.
  { path: 'audit', label: 'Audit log', roles: ['supervisor', 'admin'], screens: () => [crm, desk, watch, audit] },
  // Playback of ended interactions, over the desk like the board.
  { path: 'playback', label: 'Playback', roles: ['supervisor', 'admin'], screens: () => [crm, desk, watch, playback] },
  // Reports, over the desk like the board.
  { path: 'reports', label: 'Reports', roles: ['supervisor', 'admin'], screens: () => [crm, desk, watch, reports] },
  // The admin console, over the desk like the board; where an admin lands after login.
  { path: 'admin', label: 'Admin', roles: ['admin'], screens: () => [crm, desk, watch, admin], landing: true },
];
const DEFAULT = 'desk';

/** The route `path` names, if the signed-in user's role may open it (any role before login). */
export function routeFor(path, role = S.me && S.me.role) {
  const r = ROUTES.find((x) => x.path === path);
  if (!r) return null;
  return !role || r.roles.includes(role) ? r : null;
}

const R = { route: null, mounted: [] };

/** The route of the hash `#/<path>[?<parameters>]` (the screen reads its own parameters). */
function pathOfHash() {
  const h = location.hash;
  return h.startsWith('#/') ? h.slice(2).split('?')[0] : null;
}

/** The header's menu of the screens the role may open, the current one marked. */
function drawNav() {
  const nav = document.getElementById('screens');
  const routes = S.me ? routesFor(S.me.role) : [];
  nav.hidden = routes.length < 2;
  nav.replaceChildren(...routes.map((r) => {
    const a = document.createElement('a');
    a.href = `#/${r.path}`;
    a.textContent = r.label;
    if (R.route === r) a.setAttribute('aria-current', 'page');
    return a;
  }));
}

function show(path) {
  const allowed = routeFor(path);
  const route = allowed || routeFor(DEFAULT);
  // A route the role may not open (typed by hand) gives way to the default, in the address too.
  if (!allowed && route && S.me && pathOfHash() !== null) history.replaceState(null, '', `#/${route.path}`);
  if (!route || route === R.route) return;
  // Screens the next route keeps stay mounted (the board keeps the desk and its socket).
  const next = route.screens();
  for (const s of [...R.mounted].reverse()) if (!next.includes(s)) s.unmount();
  R.mounted = R.mounted.filter((s) => next.includes(s));
  R.route = route;
  const ctx = { route: route.path, navigate };
  for (const s of next) {
    if (R.mounted.includes(s)) continue;
    s.mount(document.body, ctx);
    R.mounted.push(s);
  }
  drawNav();
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
// An admin who opened the page without a route lands on their landing screen (the console).
const openedWithRoute = pathOfHash() !== null;
on('signedIn', () => {
  const landing = !openedWithRoute && S.me && routesFor(S.me.role).find((r) => r.landing);
  if (landing && R.route && R.route.path === DEFAULT) navigate(landing.path);
  else if (R.route && !routeFor(R.route.path)) show(R.route.path); // gives way to the default
  drawNav();
});

window.addEventListener('hashchange', () => {
  const p = pathOfHash();
  if (p !== null) show(p);
});
show(pathOfHash() || DEFAULT);

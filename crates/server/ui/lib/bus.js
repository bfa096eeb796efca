// A bus with many listeners: modules announce what happened (`emit`) and any number of others
// react (`on`). A failing listener is logged and never breaks the one that emitted or the others.
//
// Events of the desk: `offerShown(card, offer)` (an offer card was added), `listItem(button,
// interaction)` (an item of the interaction list was built), `messageContent(message, interaction,
// content)` (may change the nodes of a message's bubble), `sessionEnded(message)` (the server
// refused the token: log in again), `signedIn(me)` (the user and their role are known),
// `event(frame)` (every websocket frame, once the desk applied it), `selected(id)`
// (the desk opened one of its interactions).

const listeners = new Map(); // name -> Set of functions

/** Calls `fn` on every `name` from now on; returns the function that stops it. */
export function on(name, fn) {
  if (!listeners.has(name)) listeners.set(name, new Set());
  listeners.get(name).add(fn);
  return () => off(name, fn);
}

export function off(name, fn) {
  const set = listeners.get(name);
  if (set) set.delete(fn);
}

/** Calls every listener of `name` with `args`, in the order they were added. */
export function emit(name, ...args) {
  const set = listeners.get(name);
  if (!set) return;
  for (const fn of [...set]) {
    try { fn(...args); } catch (e) { console.error(e); }
  }
}

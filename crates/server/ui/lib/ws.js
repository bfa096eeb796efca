// The one websocket of the page, with replay: it remembers the sequence number of the last event
// and reconnects with `since=` so that nothing sent while it was away is missed (the server
// answers `resync` when it cannot replay that far). Reconnects back off up to 30 s.

const W = { ws: null, lastSeq: null, retry: 0, timer: null, opts: null };

/**
 * Opens the socket for `token`. `onEvent(frame)` gets every event but `hello`; `onStatus(state,
 * info)` gets `open`, `closed` (`info.code`) and `retrying` (`info.delay` in ms).
 */
export function connect(opts) {
  W.opts = opts;
  const { token, onEvent, onStatus } = opts;
  if (!token) return;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let url = `${proto}//${location.host}/api/v1/ws?token=${encodeURIComponent(token)}`;
  if (W.lastSeq !== null) url += `&since=${W.lastSeq}`;
  const ws = new WebSocket(url);
  W.ws = ws;
  let pingTimer = null;
  ws.onopen = () => {
    W.retry = 0;
    onStatus('open', {});
    pingTimer = setInterval(() => { if (ws.readyState === 1) ws.send('ping'); }, 25000);
  };
  ws.onmessage = (ev) => {
    if (ev.data === 'pong') return;
    let f;
    try { f = JSON.parse(ev.data); } catch { return; }
    if (f.type === 'hello') {
      if (W.lastSeq === null) W.lastSeq = f.seq;
      return;
    }
    if (typeof f.seq === 'number') W.lastSeq = f.seq;
    try { onEvent(f); } catch (e) { console.error(e); }
  };
  ws.onclose = (ev) => {
    clearInterval(pingTimer);
    if (W.ws !== ws) return;
    W.ws = null;
    if (onStatus('closed', { code: ev.code }) === false) return;
    const delay = Math.min(30000, 1000 * 2 ** W.retry) * (0.75 + Math.random() * 0.5);
    W.retry = Math.min(W.retry + 1, 6);
    onStatus('retrying', { delay });
    W.timer = setTimeout(() => connect(W.opts), delay);
  };
}

/** The socket open or opening now, if any. */
export function socket() {
  return W.ws;
}

/** Closes the socket (no reconnect). */
export function close() {
  clearTimeout(W.timer);
  if (W.ws) {
    W.ws.onclose = null;
    W.ws.close();
    W.ws = null;
  }
}

/** Forgets where the event stream was: the next connect starts afresh (after a full load). */
export function forgetReplay() {
  W.lastSeq = null;
}

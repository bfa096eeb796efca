// The state of the page: one object, changed only through the desk's event handlers and loads.

export const TOKEN_KEY = 'switchboard.token';
export const S = {
  token: sessionStorage.getItem(TOKEN_KEY),
  me: null,
  interactions: new Map(), // id -> interaction (the ones in the list)
  offers: new Map(), // interaction id -> offer data
  messages: new Map(), // interaction id -> {list: [], nextBefore} (its transcript, R-3.6)
  drafts: new Map(), // interaction id -> text typed and not sent yet
  windowClosed: new Map(), // interaction id -> window_expires_at the server refused a send with
  focusBeforeOffer: null,
  notifications: new Map(), // interaction id -> desktop Notification of its offer
  audio: null,
  media: new Map(), // message id -> blob URL | 'loading' | 'failed'
  earlyUpdates: new Map(), // message id -> message.updated data that came before the message
  selected: null,
  wrapFor: null,
  targetMode: 'transfer',
  directory: null,
};

export const myPart = (it) => {
  if (!S.me || !it.participants) return null;
  const mine = it.participants.filter((p) => p.agent_id === S.me.id);
  return mine.length ? mine[mine.length - 1] : null;
};
export const customerName = (it) => it.customer_display_name || (it.customer && (it.customer.name || it.customer.wa_id)) || 'Customer';

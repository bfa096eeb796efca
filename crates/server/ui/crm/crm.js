// The built-in CRM in the desk (SPEC §4, §5, §6): its panels beside the conversation and its
// listeners on the desk's bus. Mounted before the desk, so nothing drawn needs catching up.
import { contactPanel, onListItem, onOfferShown } from './contact.js';
import { convPanel } from './conversations.js';
import { onMessageContent } from './templates.js';
import { Panels } from '../desk/desk.js';
import { on } from '../lib/bus.js';

const offs = [];

export function mount(_root, _ctx) {
  Panels.register(contactPanel);
  Panels.register(convPanel);
  offs.push(on('offerShown', onOfferShown), on('listItem', onListItem), on('messageContent', onMessageContent));
}

export function unmount() {
  for (const off of offs.splice(0)) off();
  Panels.unregister(contactPanel);
  Panels.unregister(convPanel);
}

-- Media of messages. `media_state` mirrors `payload.media.state` (`pending`, `stored`, `failed`;
-- NULL for messages without media), so the media service finds the downloads still to do after
-- a restart without reading every payload.

ALTER TABLE messages ADD COLUMN media_state TEXT;

-- Customer media stored before this migration has not been downloaded yet.
UPDATE messages SET media_state = 'pending'
 WHERE direction = 'in' AND kind IN ('image', 'video', 'audio', 'document', 'sticker');

CREATE INDEX messages_media_pending ON messages (id) WHERE media_state = 'pending';

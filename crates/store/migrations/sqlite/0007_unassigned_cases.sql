-- The cases of one conversation saved without a contact (the screen pop lists them to assign).
CREATE INDEX cases_unassigned_conversation ON cases (conversation_id, created_at) WHERE contact_id IS NULL;

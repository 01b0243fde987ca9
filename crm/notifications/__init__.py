"""In-app notifications (the bell), e-mail and its outbox, and the message templates that
quote a record's fields (rendered per recipient, never showing a field they may not read)."""

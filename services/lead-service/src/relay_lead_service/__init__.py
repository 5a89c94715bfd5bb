"""Lead service: the only writer of leads and conversation messages."""

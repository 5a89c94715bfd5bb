"""Session worker: holds bots' WhatsApp sessions, publishes what they receive, sends."""

"""Transports: how a bot's session talks to WhatsApp (real or simulated)."""

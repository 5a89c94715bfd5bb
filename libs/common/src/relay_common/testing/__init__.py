"""Test support shipped with relay_common: a pytest plugin with real NATS and PostgreSQL."""

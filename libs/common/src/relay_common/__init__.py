"""Relay's shared library: settings, bus, contract, database, logging, metrics, runner."""

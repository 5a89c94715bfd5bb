"""AI worker: answers customers' messages."""

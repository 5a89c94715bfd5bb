"""Gateway: REST API and Server-Sent Events for browsers and integrators."""

"""The catalogue of Relay's services: name -> Python module that runs it."""

SERVICE_MODULES: dict[str, str] = {
    "gateway": "relay_gateway",
    "session-worker": "relay_session_worker",
    "ai-worker": "relay_ai_worker",
    "lead-service": "relay_lead_service",
    "scheduler": "relay_scheduler",
    "billing": "relay_billing",
}
SERVICES: tuple[str, ...] = tuple(SERVICE_MODULES)

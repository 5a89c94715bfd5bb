"""Pure rules of the scheduler."""

from __future__ import annotations

BOT_STATUS_FOR_ACTION = {"enable": "enabled", "disable": "disabled", "pause": "paused"}

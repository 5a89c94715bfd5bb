"""Scheduler: carries out timed bot actions (enable, disable, pause)."""

"""Billing: plans, limits and payments (the billing issue fills this in)."""

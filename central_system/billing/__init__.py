"""Billing: site prices published per interval, sessions billed against them, drivers told."""

from central_system.billing.service import BillingService, register_points

__all__ = ["BillingService", "register_points"]

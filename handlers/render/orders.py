"""Pure renderers from core values to Slack messages and views (one import point for handlers)."""

from __future__ import annotations

from handlers.render.cards import flag_card, order_details
from handlers.render.lists import (
    bad_order_number,
    error_message,
    flagged_list,
    help_message,
    pending_list,
)
from handlers.render.modals import fee_modal, license_modal
from handlers.render.remedy import remediation_card
from handlers.render.reports import (
    confirm_all_prompt,
    confirm_report,
    progress_message,
    refetch_report,
)

__all__ = [
    "bad_order_number",
    "confirm_all_prompt",
    "confirm_report",
    "error_message",
    "fee_modal",
    "flag_card",
    "flagged_list",
    "help_message",
    "license_modal",
    "order_details",
    "pending_list",
    "progress_message",
    "refetch_report",
    "remediation_card",
]

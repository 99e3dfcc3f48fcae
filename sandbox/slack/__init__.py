"""Slack emulator: the Web API our bot calls, and a browser console that drives the bot."""

from sandbox.slack.emulator import (
    ApiCall,
    Ephemeral,
    InboundResult,
    Message,
    PostRate,
    SlackEmulator,
    View,
)

__all__ = ["ApiCall", "Ephemeral", "InboundResult", "Message", "PostRate", "SlackEmulator", "View"]

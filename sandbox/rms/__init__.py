"""A stateful simulator of Rakuten RMS's RakutenPay Order API (reference/rms-api.md §12)."""

from sandbox.rms.simulator import RmsSimulator, SimCall

__all__ = ["RmsSimulator", "SimCall"]

"""A stateful simulator of Rakuten RMS's RakutenPay Order API."""

from sandbox.rms.simulator import RmsSimulator, SimCall

__all__ = ["RmsSimulator", "SimCall"]

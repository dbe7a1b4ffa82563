"""Test-wide settings.

OpenMP threads that busy-wait make torch on a 2-core machine many times slower when
anything else is running (measured: 0.07 s -> 1.6 s for one render); passive waiting costs
nothing when the machine is idle. It must be set before torch initialises OpenMP.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

"""LACS look-ahead (seed 001 §IV-E, eqs 22-26): moved to :mod:`mecoffload.sim.rewards`; this path re-exports it."""

from .rewards import lacs_cost_s, lacs_reward, lacs_terms

__all__ = ["lacs_terms", "lacs_cost_s", "lacs_reward"]

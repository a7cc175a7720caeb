"""Scenario constants converted once to SI floats for the hot path."""

from __future__ import annotations

from dataclasses import dataclass

from .scenario import Scenario


@dataclass(frozen=True)
class Params:
    """SI-unit constants of a scenario (s, bit, Hz, cycles, W, J)."""

    n_users: int
    n_servers: int
    slot_s: float  # Δt (s)
    horizon: int  # decision slots per episode
    history: int  # slots of load history kept per server
    f_loc: float  # local CPU (Hz)
    kappa: float  # J/cycle/Hz²
    tx_power_w: float  # W
    area_m: float
    f_edge_lo: float  # Hz
    f_edge_hi: float  # Hz
    placement: str
    bandwidth_hz: float
    snr_ref: float  # linear
    ref_distance_m: float
    path_loss_exp: float
    rayleigh: bool
    size_lo_bit: float
    size_hi_bit: float
    gamma: float  # cycles/bit
    deadline_slots: int
    arrival: str
    rate: float  # tasks per user per slot (probability for bernoulli)
    rho_s: float  # deadline penalty (s)
    allow_local: bool
    lacs_k: int
    lacs_weight: float
    lacs_lo: float
    lacs_hi: float
    cost_model: str = "paper"  # estimated-cost model: "paper" (seed 001 eqs 2-8) or "queue" (queue-aware)
    allow_reject: bool = False  # action E+1 rejects the task at decision time (admission control)

    @property
    def deadline_s(self) -> float:
        """Deadline in seconds."""
        return self.deadline_slots * self.slot_s

    @classmethod
    def from_scenario(cls, sc: Scenario) -> "Params":
        return cls(
            n_users=sc.users.count,
            n_servers=sc.edge.count,
            slot_s=sc.sim.slot_s,
            horizon=sc.sim.horizon_slots,
            history=sc.sim.history_slots,
            f_loc=sc.users.cpu_ghz * 1e9,
            kappa=sc.users.kappa,
            tx_power_w=sc.users.tx_power_w,
            area_m=sc.users.area_m,
            f_edge_lo=sc.edge.cpu_ghz[0] * 1e9,
            f_edge_hi=sc.edge.cpu_ghz[1] * 1e9,
            placement=sc.edge.placement,
            bandwidth_hz=sc.channel.bandwidth_mhz * 1e6,
            snr_ref=10 ** (sc.channel.snr_ref_db / 10),
            ref_distance_m=sc.channel.ref_distance_m,
            path_loss_exp=sc.channel.path_loss_exp,
            rayleigh=sc.channel.fading == "rayleigh",
            size_lo_bit=sc.task.size_mbit[0] * 1e6,
            size_hi_bit=sc.task.size_mbit[1] * 1e6,
            gamma=sc.task.density_gcycles_per_mbit * 1e3,
            deadline_slots=sc.task.deadline_slots,
            arrival=sc.task.arrival,
            rate=sc.task.rate,
            rho_s=sc.cost.deadline_penalty_slots * sc.sim.slot_s,
            allow_local=sc.cost.allow_local,
            lacs_k=sc.lacs.k,
            lacs_weight=sc.lacs.weight,
            lacs_lo=sc.lacs.future_size_lo,
            lacs_hi=sc.lacs.future_size_hi,
            cost_model=sc.cost.model,
            allow_reject=sc.cost.allow_reject,
        )

    @property
    def n_actions(self) -> int:
        """Actions of a decision: 0 = local, 1..E = edge servers, E+1 = reject when allowed."""
        return self.n_servers + 1 + int(self.allow_reject)

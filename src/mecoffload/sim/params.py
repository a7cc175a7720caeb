"""Scenario constants converted once to SI floats for the hot path."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..dnn.tasks import DnnTables, build_tables
from .arrivals import Schedule, schedule_of
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
    rate: float  # tasks per user per slot (probability for bernoulli); the long-run mean of a schedule
    rho_s: float  # deadline penalty (s)
    allow_local: bool
    lacs_k: int
    lacs_weight: float
    lacs_lo: float
    lacs_hi: float
    cost_model: str = "paper"  # estimated-cost model: "paper" (seed 001 eqs 2-8) or "queue" (queue-aware)
    allow_reject: bool = False  # action E+1 rejects the task at decision time (admission control)
    schedule: Schedule | None = None  # a non-constant task.rate (sim.arrivals); None = the constant ``rate``
    service: str = "continuous"  # "continuous" | "slotted" queue service (sim.dynamics.serve)
    fixed_rate_bps: float = 0.0  # > 0: every uplink runs at exactly this rate (bit/s), no fading
    dnn: DnnTables | None = None  # the DNN-split task family (``dnn.tasks``); None = generic tasks

    @property
    def deadline_s(self) -> float:
        """Deadline in seconds."""
        return self.deadline_slots * self.slot_s

    @classmethod
    def from_scenario(cls, sc: Scenario) -> "Params":
        p = cls._generic(sc)
        return p if sc.dnn is None else _with_dnn(p, sc)

    @classmethod
    def _generic(cls, sc: Scenario) -> "Params":
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
            rayleigh=sc.channel.fading == "rayleigh" and sc.channel.fixed_rate_mbps is None,
            size_lo_bit=sc.task.size_mbit[0] * 1e6,
            size_hi_bit=sc.task.size_mbit[1] * 1e6,
            gamma=sc.task.density_gcycles_per_mbit * 1e3,
            deadline_slots=sc.task.deadline_slots,
            arrival=sc.task.arrival,
            rate=sc.task.mean_rate,
            rho_s=sc.cost.deadline_penalty_slots * sc.sim.slot_s,
            allow_local=sc.cost.allow_local,
            lacs_k=sc.lacs.k,
            lacs_weight=sc.lacs.weight,
            lacs_lo=sc.lacs.future_size_lo,
            lacs_hi=sc.lacs.future_size_hi,
            cost_model=sc.cost.model,
            allow_reject=sc.cost.allow_reject,
            schedule=schedule_of(sc.task.rate),
            service=sc.sim.service,
            fixed_rate_bps=0.0 if sc.channel.fixed_rate_mbps is None else sc.channel.fixed_rate_mbps * 1e6,
        )

    @property
    def n_actions(self) -> int:
        """Actions of a decision: 0 = local, 1..E = edge servers, E+1 = reject when allowed; DNN-split
        tasks: ``(v * K + k) * E + e`` (``DnnTables.n_actions``)."""
        if self.dnn is not None:
            return self.dnn.n_actions
        return self.n_servers + 1 + int(self.allow_reject)


DNN_HZ = 1e9
"""Nominal clock (Hz) of the device and of every server for DNN-split tasks: a stage of t s on its
processor is t * DNN_HZ cycles of work (the roofline times already hold each processor's speed)."""


def _with_dnn(p: Params, sc: Scenario) -> Params:
    """``p`` for DNN-split tasks: nominal clocks, the link's fixed rate (no fading) and the device's
    energy model mapped onto the engine's accounting: local energy kappa·f_loc²·cycles = p_compute·s
    (kappa = p_compute / f_loc³), upload energy P_tx(r)·air time (``tx_power_w``); gamma = 1 so that
    L_e counts edge cycles (bits while uploading)."""
    d = sc.dnn
    servers = d.servers * sc.edge.count if len(d.servers) == 1 else d.servers
    t = build_tables(d.networks, d.device, servers, d.uplink, sc.channel.fixed_rate_mbps, d.activation, d.variants,
                     d.max_top1_loss)
    return replace(p, f_loc=DNN_HZ, kappa=t.p_compute_w / DNN_HZ**3, tx_power_w=t.tx_power_w, f_edge_lo=DNN_HZ,
                   f_edge_hi=DNN_HZ, rayleigh=False, fixed_rate_bps=t.rate_bps, gamma=1.0, dnn=t)

"""Snapshots (what a device reports, in the service's units) <-> ``sim.dynamics.Obs`` rows (SI units).

``Board`` holds K snapshots with the same number of servers E, their tasks padded to T; round j
observes the j-th task of every snapshot that has one (``Board.observe``) and ``Board.decide``
applies the decisions exactly as ``sim.dynamics.decide`` does to the simulator's state: a local
task adds D·γ cycles to the local queue; a task sent to server e adds one uploading task and D bits
to N_e and L_e, D bits to the device's uplink queue and D / R̄_e to its wait; a rejected one
(action E+1) changes nothing. ``obs_to_snapshots`` goes the other way (used by ``serve-sim``): it picks, for every
value, the decimal the service turns back into the very same float64, where one exists.

Unit conversions (one place, used both ways): D = size_mbit·1e6 bit, F_e = cpu_ghz·1e9 Hz,
R = rate_mbps·1e6 bit/s, W_e = backlog_gcycles·1e9 cycles (in service), and the paper model's
L_e = W_e/γ + uploading_mbit·1e6 bit (γ cycles/bit; D counts whole while a task uploads).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..core.errors import UserError
from ..sim.cost import mean_uplink_rate, uplink_rate
from ..sim.dynamics import Obs
from ..sim.params import Params

OBS_FIELDS = tuple(f.name for f in dataclasses.fields(Obs))
REL_TOL = 1e-9  # a device value "equals" the scenario's within this relative tolerance


class SnapshotError(UserError):
    """A snapshot that passed the schema but does not fit the scenario; ``loc`` names the field."""

    def __init__(self, loc: tuple, msg: str):
        super().__init__(f"{'.'.join(map(str, loc))}: {msg}")
        self.loc, self.msg = loc, msg


# ----------------------------------------------------------------------------- unit conversions

def mbit_to_bits(x):
    return np.asarray(x, np.float64) * 1e6


def ghz_to_hz(x):
    return np.asarray(x, np.float64) * 1e9


gcycles_to_cycles = ghz_to_hz  # the same x·1e9


def gcycles_to_bits(x, gamma: float):
    return np.asarray(x, np.float64) * 1e9 / gamma


def paper_backlog_bits(gcycles, uploading_mbit, gamma: float):
    """L_e (bit) of the paper model: the work in service in bits plus the sizes still uploading."""
    return gcycles_to_bits(gcycles, gamma) + mbit_to_bits(uploading_mbit)


def snr_at(distance_m, p: Params) -> np.ndarray:
    """Mean SNR (linear) at ``distance_m`` under the scenario's path loss (``sim.dynamics.reset``)."""
    d = np.maximum(np.asarray(distance_m, np.float64), 1.0)
    return p.snr_ref * (d / p.ref_distance_m) ** (-p.path_loss_exp)


_MEAN_RATE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # (bandwidth Hz, rayleigh) -> (sorted mean SNRs, rates bit/s)
_MEAN_RATE_KEEP = 65_536


def mean_rates(snr: np.ndarray, p: Params) -> np.ndarray:
    """``sim.cost.mean_uplink_rate`` (bit/s) of the mean SNRs ``snr``, memoised per value (a device's
    distances repeat request after request): a sorted array of the SNRs seen, looked up with
    ``searchsorted`` (384 values: ~10 µs, against ~130 µs for a dict lookup per value); the new
    values are computed in one vectorised call and merged in."""
    key = (p.bandwidth_hz, p.rayleigh)
    known, rates = _MEAN_RATE.get(key, (np.empty(0), np.empty(0)))
    i = np.minimum(np.searchsorted(known, snr), max(len(known) - 1, 0))
    hit = known[i] == snr if len(known) else np.zeros(snr.shape, bool)
    if not hit.all():
        new = np.unique(snr[~hit])
        if len(known) + len(new) > _MEAN_RATE_KEEP:
            known, rates = np.empty(0), np.empty(0)
        known, rates = np.concatenate([known, new]), np.concatenate([rates, mean_uplink_rate(new, p.bandwidth_hz,
                                                                                               p.rayleigh)])
        order = np.argsort(known, kind="stable")
        known, rates = known[order], rates[order]
        _MEAN_RATE[key] = (known, rates)
        i = np.searchsorted(known, snr)
    return rates[i]


def mean_fading_rate(distance_m, p: Params) -> np.ndarray:
    """Uplink rate (bit/s) at distance ``distance_m`` through the scenario's mean-SNR path loss at
    the mean fading gain E|h|² = 1."""
    return uplink_rate(snr_at(distance_m, p), 1.0, p.bandwidth_hz)


def distance_from_rate(rate_bps, p: Params) -> np.ndarray:
    """The distance (m) at which the mean-fading rate is ``rate_bps`` (inverse of ``mean_fading_rate``)."""
    snr = np.maximum(np.exp2(np.minimum(np.asarray(rate_bps, np.float64) / p.bandwidth_hz, 1000.0)) - 1.0, 1e-300)
    return p.ref_distance_m * (snr / p.snr_ref) ** (-1.0 / p.path_loss_exp)


# ----------------------------------------------------------------------------- snapshots -> Obs

@dataclass
class Board:
    """K snapshots of E servers (SI units), their tasks padded to T; updated by ``decide``."""

    f_edge: np.ndarray  # (K,E) Hz
    rate: np.ndarray  # (K,E) bit/s
    dist: np.ndarray  # (K,E) m
    n_in_service: np.ndarray  # (K,E)
    n_uploading: np.ndarray  # (K,E)
    backlog_bits: np.ndarray  # (K,E) L_e, bit
    backlog_cycles: np.ndarray  # (K,E) W_e, cycles in service
    mean_rate: np.ndarray  # (K,E) bit/s
    hist: np.ndarray  # (K,E,H) bit
    local_wait_s: np.ndarray  # (K,) s
    uplink_bits: np.ndarray  # (K,) bit
    uplink_wait_s: np.ndarray  # (K,) s
    bits: np.ndarray  # (K,T) bit, 0 on padding
    deadline_s: np.ndarray  # (K,T) s
    n_tasks: np.ndarray  # (K,)

    @property
    def rounds(self) -> int:
        return self.bits.shape[1]

    def rows(self, j: int) -> np.ndarray:
        """Snapshots that have a j-th task."""
        return np.flatnonzero(self.n_tasks > j)

    def observe(self, j: int) -> tuple[np.ndarray, Obs]:
        """(snapshot of each row, Obs of the j-th task of every snapshot that has one)."""
        k = self.rows(j)
        n_active = self.n_in_service[k] + self.n_uploading[k]
        planned = {
            "env": np.arange(len(k)), "bits": self.bits[k, j], "user": np.zeros(len(k), np.int64),
            "local_wait_s": self.local_wait_s[k], "rate": self.rate[k], "f_edge": self.f_edge[k],
            "n_active": n_active, "backlog_bits": self.backlog_bits[k], "hist": self.hist[k], "dist": self.dist[k],
            "uplink_bits": self.uplink_bits[k], "uplink_wait_s": self.uplink_wait_s[k], "mean_rate": self.mean_rate[k],
            "n_uploading": self.n_uploading[k], "n_in_service": self.n_in_service[k],
            "backlog_cycles": self.backlog_cycles[k],
        }
        return k, Obs(**{name: planned[name] for name in OBS_FIELDS})

    def decide(self, k: np.ndarray, obs: Obs, action: np.ndarray, p: Params) -> None:
        """Apply one decision per row (snapshot ``k[i]``), as ``sim.kernels.decide_rows`` does."""
        loc = action == 0
        kl = k[loc]
        self.local_wait_s[kl] = (self.local_wait_s[kl] * p.f_loc + obs.bits[loc] * p.gamma) / p.f_loc
        up = (action >= 1) & (action <= obs.n_servers)  # E+1 = rejected: nothing is queued
        ke, e, d = k[up], action[up] - 1, obs.bits[up]
        self.n_uploading[ke, e] += 1.0
        self.backlog_bits[ke, e] += d
        self.uplink_bits[ke] += d
        self.uplink_wait_s[ke] += d / self.mean_rate[ke, e]


def _check_scenario_value(loc: tuple, value: float | None, want: float, name: str) -> None:
    if value is not None and abs(value - want) > REL_TOL * abs(want):
        raise SnapshotError(loc, f"must equal the scenario's {name} = {want:g} (the policy was built for it)")


def board(snaps: list, at: list[tuple], p: Params) -> Board:
    """A ``Board`` of validated ``schema.Snapshot`` objects (all with the same number of servers);
    ``at[i]`` is where ``snaps[i]`` is in the request body (for error locations). The fields are
    read column by column (one list per field, ``None`` -> nan), then converted as arrays."""
    K, E, H = len(snaps), len(snaps[0].servers), p.history
    servers = [v for s in snaps for v in s.servers]
    srv = np.array([(v.cpu_ghz, v.tasks_in_service, v.tasks_uploading, v.backlog_gcycles, v.uploading_mbit,
                     v.rate_mbps, v.mean_rate_mbps, v.distance_m) for v in servers], np.float64).reshape(K, E, 8)
    hist = np.repeat(srv[..., 3:4], H, -1)  # default: the current backlog every slot
    for i, v in enumerate(servers):
        if v.backlog_history_gcycles is not None:
            if len(v.backlog_history_gcycles) != H:
                raise SnapshotError(at[i // E] + ("servers", i % E, "backlog_history_gcycles"),
                                    f"needs exactly sim.history_slots = {H} values, newest last")
            if H:
                hist[i // E, i % E] = v.backlog_history_gcycles
    devices = [s.device for s in snaps]
    dev = np.array([(d.local_wait_s, d.uplink_backlog_mbit, d.uplink_wait_s) for d in devices], np.float64)
    cpu = np.array([d.cpu_ghz for d in devices], np.float64)
    for i in np.flatnonzero(~np.isnan(cpu) & (np.abs(cpu - p.f_loc / 1e9) > REL_TOL * p.f_loc / 1e9)):
        _check_scenario_value(at[i] + ("device", "cpu_ghz"), float(cpu[i]), p.f_loc / 1e9, "users.cpu_ghz")
    n_tasks = np.array([len(s.tasks) for s in snaps], np.int64)
    T = int(n_tasks.max())
    flat = np.array([(t.size_mbit, t.deadline_s, t.gcycles_per_mbit) for s in snaps for t in s.tasks], np.float64)
    dens = p.gamma / 1e3  # Gcycles/Mbit
    bad = np.flatnonzero(~np.isnan(flat[:, 2]) & (np.abs(flat[:, 2] - dens) > REL_TOL * abs(dens)))
    starts = np.concatenate([[0], np.cumsum(n_tasks)[:-1]])
    if len(bad):
        i = int(np.searchsorted(starts, bad[0], "right") - 1)
        _check_scenario_value(at[i] + ("tasks", int(bad[0] - starts[i]), "gcycles_per_mbit"), float(flat[bad[0], 2]),
                              dens, "task.density_gcycles_per_mbit")
    tasks = np.zeros((K, T, 2))
    if T == 1:
        tasks[:, 0] = flat[:, :2]
    else:
        row = np.repeat(np.arange(K), n_tasks)
        tasks[row, np.arange(len(flat)) - starts[row]] = flat[:, :2]
    tasks[..., 1] = np.where(np.isnan(tasks[..., 1]), p.deadline_s, tasks[..., 1])
    return _board(srv, hist, dev, tasks, n_tasks, p)


def _board(srv: np.ndarray, hist: np.ndarray, dev: np.ndarray, tasks: np.ndarray, n_tasks: np.ndarray, p: Params) -> Board:
    """The unit conversions and defaults of ``board`` on the parsed arrays (nan = not given)."""
    given_d = ~np.isnan(srv[..., 7])
    snr = snr_at(np.where(given_d, srv[..., 7], 1.0), p)
    rate = np.where(np.isnan(srv[..., 5]), uplink_rate(snr, 1.0, p.bandwidth_hz), mbit_to_bits(srv[..., 5]))
    dist = np.where(given_d, srv[..., 7], distance_from_rate(rate, p))
    mean_rate = np.where(np.isnan(srv[..., 6]), rate, mbit_to_bits(srv[..., 6]))
    need = np.isnan(srv[..., 6]) & given_d
    if need.any():  # the ergodic mean (a 100-level continued fraction) only where it is not given, memoised
        mean_rate[need] = mean_rates(snr[need], p)
    up_bits = mbit_to_bits(dev[:, 1])
    up_wait = np.where(np.isnan(dev[:, 2]), up_bits / mean_rate.mean(1), dev[:, 2])
    return Board(
        f_edge=ghz_to_hz(srv[..., 0]), rate=rate, dist=dist, n_in_service=srv[..., 1].copy(),
        n_uploading=srv[..., 2].copy(), backlog_bits=paper_backlog_bits(srv[..., 3], srv[..., 4], p.gamma),
        backlog_cycles=gcycles_to_cycles(srv[..., 3]), mean_rate=mean_rate, hist=gcycles_to_bits(hist, p.gamma),
        local_wait_s=dev[:, 0].copy(), uplink_bits=up_bits, uplink_wait_s=up_wait,
        bits=mbit_to_bits(tasks[..., 0]), deadline_s=tasks[..., 1], n_tasks=n_tasks,
    )


# ----------------------------------------------------------------------------- Obs -> snapshots

def exact_preimage(x: np.ndarray, guess: np.ndarray, forward) -> np.ndarray:
    """For each x, a float m near ``guess`` with ``forward(m) == x`` exactly, where one of the
    nearest few floats around the guess has it (else the guess)."""
    x, m = np.asarray(x, np.float64), np.array(guess, np.float64)
    best = m.copy()
    found = forward(m) == x
    for steps in (1, -1, 2, -2):
        cand = m
        direction = np.inf if steps > 0 else -np.inf
        for _ in range(abs(steps)):
            cand = np.nextafter(cand, direction)
        hit = ~found & (forward(cand) == x)
        best[hit] = cand[hit]
        found |= hit
    return best


def obs_to_snapshots(obs: Obs, p: Params) -> list[dict]:
    """One JSON-ready snapshot (one task) per row of ``obs``; ``board`` of them gives back the
    same Obs values (bit-exact wherever a decimal in the service's units round-trips)."""
    gamma = p.gamma
    size = exact_preimage(obs.bits, obs.bits / 1e6, mbit_to_bits)
    cpu = exact_preimage(obs.f_edge, obs.f_edge / 1e9, ghz_to_hz)
    rate = exact_preimage(obs.rate, obs.rate / 1e6, mbit_to_bits)
    mean_rate = exact_preimage(obs.mean_rate, obs.mean_rate / 1e6, mbit_to_bits)
    backlog = exact_preimage(obs.backlog_cycles, obs.backlog_cycles / 1e9, gcycles_to_cycles)
    in_service_bits = gcycles_to_bits(backlog, gamma)
    uploading = exact_preimage(obs.backlog_bits, np.maximum(obs.backlog_bits - in_service_bits, 0.0) / 1e6,
                               lambda m: in_service_bits + mbit_to_bits(m))
    hist = exact_preimage(obs.hist, obs.hist * gamma / 1e9, lambda m: gcycles_to_bits(m, gamma))
    up = exact_preimage(obs.uplink_bits, obs.uplink_bits / 1e6, mbit_to_bits)
    cols = [a.tolist() for a in (cpu, obs.n_in_service.astype(np.int64), obs.n_uploading.astype(np.int64), backlog,
                                 uploading, rate, mean_rate, obs.dist)]
    hist, wait, up, size, up_wait = hist.tolist(), obs.local_wait_s.tolist(), up.tolist(), size.tolist(), obs.uplink_wait_s.tolist()
    keys = ("cpu_ghz", "tasks_in_service", "tasks_uploading", "backlog_gcycles", "uploading_mbit", "rate_mbps",
            "mean_rate_mbps", "distance_m")
    out = []
    for i in range(len(obs)):
        servers = [dict(zip(keys, (c[i][e] for c in cols)), backlog_history_gcycles=hist[i][e])
                   for e in range(obs.n_servers)]
        out.append({"servers": servers, "device": {"local_wait_s": wait[i], "uplink_backlog_mbit": up[i],
                                                   "uplink_wait_s": up_wait[i]},
                    "tasks": [{"size_mbit": size[i]}]})
    return out

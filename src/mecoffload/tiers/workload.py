"""Static infrastructure arrays and the exogenous workload (tasks, mobility), drawn once per run.

Everything here depends only on (scenario, environment), never on the policy: every policy of
an evaluation sees identical tasks and device movements (common random numbers). An
environment is a pair (devices, seed) and draws from its own seeded streams, so a batch of
environments (e.g. a whole device-count sweep with several seeds) reproduces the single runs.

Arrival processes (``devices.arrival``):

- ``app`` (EdgeCloudSim IdleActiveLoadGenerator): each device runs one app, drawn by usage
  share; it alternates active (``active_s``) and idle (``idle_s``) periods and, while active,
  generates tasks as a Poisson process of mean inter-arrival ``interarrival_s``.
  ``devices.phase = "random"`` starts every device at a uniform point of its cycle (stationary
  from t = 0); ``"edgecloudsim"`` starts its first active period at U[start_s, start_s + active_s].
- ``interval`` (seed 002 §V-A): inter-arrival ~ U[lo, hi] s per device, app drawn per task.

Task sizes: ``size_dist = "exponential"`` draws length (MI), upload and download (KB) from
exponentials with the app's means (EdgeCloudSim); ``"fixed"`` uses the means.
Mobility ``nomadic``: a device stays at an access point for Exp(mean_dwell_s[attractiveness])
seconds, then moves to another access point chosen uniformly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import TierScenario


@dataclass(frozen=True)
class Layout:
    """Static arrays of one scenario (same in every environment).

    VMs are numbered edge datacenter by edge datacenter, then the cloud. Datacenters 0..N-1
    are the edge ones (datacenter a is the access point a's local edge), N is the cloud.
    """

    n_servers: int
    n_dc: int
    vm_dc: np.ndarray  # (V,) datacenter of each VM
    vm_cores: np.ndarray  # (V,)
    vm_mips: np.ndarray  # (V,) per core, MIPS
    vm_ram: np.ndarray  # (V,) MB
    dc_cloud: np.ndarray  # (D,) bool
    app_sens: np.ndarray  # (A,)
    app_deadline_s: np.ndarray  # (A,) s, inf = none
    app_up: np.ndarray  # (A,) KB
    app_down: np.ndarray  # (A,) KB
    app_len: np.ndarray  # (A,) MI
    app_cores: np.ndarray  # (A,)
    app_mem: np.ndarray  # (A,) MB
    app_util: np.ndarray  # (A, 2) % on edge / cloud VMs; nan = derive from C3
    app_usage: np.ndarray  # (A,) probabilities
    app_names: tuple[str, ...]

    @property
    def n_vm(self) -> int:
        return self.vm_dc.shape[0]

    @property
    def vm_cloud(self) -> np.ndarray:
        return self.dc_cloud[self.vm_dc]

    @property
    def vm_capacity(self) -> np.ndarray:
        """(V,) total MIPS of each VM."""
        return self.vm_cores * self.vm_mips

    @classmethod
    def from_scenario(cls, sc: TierScenario) -> "Layout":
        dc, cores, mips, ram = [], [], [], []
        for d, hosts in enumerate([e.hosts for e in sc.edge] + ([sc.cloud] if sc.cloud else [])):
            for h in hosts:
                for v in h.vms:
                    dc += [d] * v.count
                    cores += [v.cores] * v.count
                    mips += [v.mips] * v.count
                    ram += [v.ram_mb] * v.count
        n_servers = len(sc.edge)
        n_dc = n_servers + (1 if sc.cloud else 0)
        apps = sc.apps
        usage = np.array([a.usage_pct for a in apps], float)
        nan = float("nan")
        return cls(
            n_servers=n_servers,
            n_dc=n_dc,
            vm_dc=np.array(dc, np.int64),
            vm_cores=np.array(cores, float),
            vm_mips=np.array(mips, float),
            vm_ram=np.array(ram, float),
            dc_cloud=np.arange(n_dc) >= n_servers,
            app_sens=np.array([a.delay_sensitivity for a in apps]),
            app_deadline_s=np.array([a.deadline_s if a.deadline_s is not None else np.inf for a in apps]),
            app_up=np.array([a.upload_kb for a in apps], float),
            app_down=np.array([a.download_kb for a in apps], float),
            app_len=np.array([a.length_mi for a in apps], float),
            app_cores=np.array([a.required_cores for a in apps], float),
            app_mem=np.array([a.memory_mb for a in apps], float),
            app_util=np.array([[a.vm_util_edge_pct if a.vm_util_edge_pct is not None else nan,
                                a.vm_util_cloud_pct if a.vm_util_cloud_pct is not None else nan] for a in apps]),
            app_usage=usage / usage.sum(),
            app_names=tuple(a.name for a in apps),
        )

    def required_util(self, app: np.ndarray, length_mi: np.ndarray, deadline_s: np.ndarray) -> np.ndarray:
        """(n, V) VM utilisation (%) a task needs on every VM: the app's EdgeCloudSim value for
        the VM's tier, or seed 002's C3 term 100·L / (f · T_max) with f the VM CPU speed of
        Table II (MIPS of one core: a single-core task can use no more)."""
        tier = self.vm_cloud.astype(np.int64)  # (V,) 0 edge, 1 cloud
        given = self.app_util[app][:, tier]  # (n, V)
        derived = 100.0 * length_mi[:, None] / (deadline_s[:, None] * self.vm_mips[None, :])
        return np.where(np.isnan(given), derived, given)


@dataclass
class Workload:
    """All tasks of a batch of B environments, sorted by arrival time (ties: env, device)."""

    env: np.ndarray  # (T,)
    device: np.ndarray  # (T,)
    app: np.ndarray  # (T,)
    t_arr: np.ndarray  # (T,) s
    length_mi: np.ndarray  # (T,)
    up_kb: np.ndarray  # (T,)
    down_kb: np.ndarray  # (T,)
    due_s: np.ndarray  # (T,) time the result is due: t_arr + the app's deadline_s, s (inf = none)
    dev_app: np.ndarray  # (B, M) app of each device (arrival='app'; -1 otherwise; M = most devices of an env)
    init_ap: np.ndarray  # (B, M) access point at t = 0
    envs: tuple[tuple[int, int], ...]  # (devices, seed) of every environment
    move_t: np.ndarray  # (K,) mobility events sorted by time
    move_env: np.ndarray
    move_dev: np.ndarray
    move_ap: np.ndarray

    @property
    def n_tasks(self) -> int:
        return self.t_arr.shape[0]

    def counts_per_env(self, batch: int) -> np.ndarray:
        return np.bincount(self.env, minlength=batch)


def env_rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """(workload, mobility, links) generators of an environment with this seed."""
    ss = np.random.SeedSequence([seed, 0x7153])
    return tuple(np.random.Generator(np.random.PCG64(s)) for s in ss.spawn(3))  # type: ignore[return-value]


def _app_arrivals(rng: np.random.Generator, sc: TierScenario, lay: Layout, n_dev: int, horizon: float):
    """(device, t) of every task of one env for arrival='app'; returns also the device apps."""
    app = rng.choice(len(lay.app_names), size=n_dev, p=lay.app_usage)
    act = np.array([a.active_s for a in sc.apps])[app]
    idle = np.array([a.idle_s for a in sc.apps])[app]
    mean = np.array([a.interarrival_s for a in sc.apps])[app]
    period = act + idle
    if sc.devices.phase == "random":
        # a uniform point of the cycle at t = 0: the current cycle started at -phase
        start = -rng.uniform(0.0, 1.0, n_dev) * period
    else:
        start = sc.devices.start_s + rng.uniform(0.0, 1.0, n_dev) * act
    # active time elapsed between cycle origin `start` and time x, for x >= start
    def active_until(x):
        rel = np.maximum(x - start, 0.0)
        full = np.floor(rel / period)
        return full * act + np.minimum(rel - full * period, act)

    a0 = active_until(np.zeros(n_dev))
    a1 = active_until(np.full(n_dev, horizon))
    counts = rng.poisson((a1 - a0) / mean)
    dev = np.repeat(np.arange(n_dev), counts)
    u = a0[dev] + rng.uniform(0.0, 1.0, dev.size) * (a1 - a0)[dev]  # active-time coordinate
    full = np.floor(u / act[dev])
    t = start[dev] + full * period[dev] + (u - full * act[dev])
    return dev, t, app


def _interval_arrivals(rng: np.random.Generator, sc: TierScenario, lay: Layout, n_dev: int, horizon: float):
    lo, hi = sc.devices.interval_s
    m = int(np.ceil(horizon / lo)) + 1
    t = np.cumsum(rng.uniform(lo, hi, (n_dev, m)), axis=1) - rng.uniform(0.0, hi, (n_dev, 1))
    keep = (t >= 0) & (t < horizon)
    dev = np.nonzero(keep)[0]
    return dev, t[keep], None


def _mobility(rng: np.random.Generator, sc: TierScenario, lay: Layout, n_dev: int, t_end: float):
    n_ap = lay.n_servers
    ap = rng.integers(0, n_ap, n_dev)
    if sc.mobility.model == "static" or n_ap < 2:
        z = np.zeros(0)
        return ap, z, z.astype(np.int64), z.astype(np.int64)
    attract = np.array([e.attractiveness for e in sc.edge])
    dwell = np.array(sc.mobility.mean_dwell_s)
    times, devs, aps = [], [], []
    cur, now = ap.copy(), np.zeros(n_dev)
    alive = np.ones(n_dev, bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        now[idx] += rng.exponential(dwell[attract[cur[idx]]])
        nxt = (cur[idx] + rng.integers(1, n_ap, idx.size)) % n_ap  # uniform over the other access points
        ok = now[idx] < t_end
        times.append(now[idx][ok])
        devs.append(idx[ok])
        aps.append(nxt[ok])
        cur[idx] = np.where(ok, nxt, cur[idx])
        alive[idx[~ok]] = False
    return ap, np.concatenate(times), np.concatenate(devs), np.concatenate(aps)


def make_envs(sc: TierScenario, seeds: int, seed: int, devices: list[int] | None = None) -> list[tuple[int, int]]:
    """(devices, seed) of every environment: each device count (default ``devices.count``) with
    seeds seed, seed+1, ..., seed+seeds-1. One batch can thus hold a whole sweep."""
    counts = devices if devices is not None else [sc.devices.count]
    return [(int(n), seed + s) for n in counts for s in range(seeds)]


def generate(sc: TierScenario, lay: Layout, envs: list[tuple[int, int]]) -> Workload:
    """Draw the tasks and mobility of every environment (devices, seed)."""
    horizon = sc.sim.horizon_s
    t_end = horizon + sc.sim.max_drain_s
    parts = []
    batch = len(envs)
    m = max(n for n, _ in envs)
    dev_apps = np.full((batch, m), -1, np.int64)
    init_ap = np.zeros((batch, m), np.int64)
    moves = []
    exp_sizes = np.array([a.size_dist == "exponential" for a in sc.apps])
    for b, (n_dev, env_seed) in enumerate(envs):
        r_work, r_mob, _ = env_rngs(env_seed)
        if sc.devices.arrival == "app":
            dev, t, app_of_dev = _app_arrivals(r_work, sc, lay, n_dev, horizon)
            app = app_of_dev[dev]
            dev_apps[b, :n_dev] = app_of_dev
        else:
            dev, t, _ = _interval_arrivals(r_work, sc, lay, n_dev, horizon)
            app = r_work.choice(len(lay.app_names), size=dev.size, p=lay.app_usage)
        sizes = r_work.exponential(1.0, (3, dev.size))
        sizes = np.where(exp_sizes[app][None, :], sizes, 1.0)
        length = np.maximum(sizes[0] * lay.app_len[app], 1e-6)
        up = sizes[1] * lay.app_up[app]
        down = sizes[2] * lay.app_down[app]
        parts.append((np.full(dev.size, b), dev, app, t, length, up, down))
        ap0, mt, md, ma = _mobility(r_mob, sc, lay, n_dev, t_end)
        init_ap[b, :n_dev] = ap0
        moves.append((mt, np.full(mt.size, b), md, ma))
    cols = [np.concatenate(c) for c in zip(*parts)]
    env, dev, app, t, length, up, down = cols
    order = np.lexsort((dev, env, t))
    env, dev, app, t = env[order].astype(np.int64), dev[order].astype(np.int64), app[order].astype(np.int64), t[order]
    mcols = [np.concatenate(c) for c in zip(*moves)]
    morder = np.argsort(mcols[0], kind="stable")
    return Workload(
        env=env, device=dev, app=app, t_arr=t,
        length_mi=length[order], up_kb=up[order], down_kb=down[order],
        due_s=t + lay.app_deadline_s[app],
        dev_app=dev_apps, init_ap=init_ap, envs=tuple(envs),
        move_t=mcols[0][morder], move_env=mcols[1][morder].astype(np.int64),
        move_dev=mcols[2][morder].astype(np.int64), move_ap=mcols[3][morder].astype(np.int64),
    )

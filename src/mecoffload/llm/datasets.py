"""State sets of seed 001 §V-A from the simulator: SFT (1,000 states with oracle labels), GRPO (2,000),
test (1,000). JSONL, one state per line, every quantity in SI units (bit, s, Hz, bit/s), the queue
view of ``Obs`` included (``QUEUE_FIELDS``: what ``feature_set=2`` reads).

States are visited by an ε-oracle behaviour policy (oracle action, a uniformly random one with
probability ε) in a batch of simulated episodes, then drawn without replacement from a pool three
times larger (less correlation between consecutive decisions). Each set has its own seed, so the
three never share an episode. Every record carries the oracle label and J of every action.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

from ..sim.scenario import Scenario
from ..sim.cost import oracle_costs
from ..sim.dynamics import Obs
from ..sim.params import Params
from ..sim.rollout import drive, episodes, epsilon_oracle

SIZES = {"sft": 1000, "grpo": 2000, "test": 1000}
SEED_OFFSET = {"sft": 1, "grpo": 2, "test": 3}
FIELDS = ["bits", "user", "local_wait_s", "rate", "f_edge", "n_active", "backlog_bits", "hist", "dist"]
QUEUE_FIELDS = ["uplink_bits", "uplink_wait_s", "mean_rate", "n_uploading", "n_in_service", "backlog_cycles"]
"""the queue view of ``Obs`` (feature set 2); a JSONL file written before it has none (``Obs`` defaults)"""


def collect_states(p: Params, n: int, seed: int, epsilon: float = 0.3, envs: int = 16) -> Obs:
    """``n`` states visited by the ε-oracle in the simulator (rows of one Obs)."""
    rng = np.random.Generator(np.random.PCG64([seed, 11]))
    pool: list[Obs] = []
    have = 0

    def act(obs: Obs) -> np.ndarray:
        nonlocal have
        pool.append(obs)
        have += len(obs)
        return epsilon_oracle(obs, p, rng, epsilon)[0]

    drive(episodes(p, envs, (seed * 1_000_003 + e for e in itertools.count()), until=lambda: have >= 3 * n), act)
    allobs = concat(pool)
    idx = np.sort(rng.choice(len(allobs), size=n, replace=False))
    out = allobs.take(idx)
    out.env = np.arange(n)
    return out


def concat(parts: list[Obs]) -> Obs:
    return Obs(env=np.concatenate([o.env for o in parts]),
               **{f: np.concatenate([getattr(o, f) for o in parts]) for f in FIELDS + QUEUE_FIELDS})


def make_sets(scenario: Scenario, seed: int = 0, sizes: dict | None = None) -> dict[str, Obs]:
    """The SFT / GRPO / test state sets (``SIZES`` unless ``sizes``), each from its own seed."""
    return _sets(Params.from_scenario(scenario), seed, sizes)


def _sets(p: Params, seed: int, sizes: dict | None) -> dict[str, Obs]:
    sizes = {**SIZES, **(sizes or {})}
    return {name: collect_states(p, n, seed * 10 + SEED_OFFSET[name]) for name, n in sizes.items() if n > 0}


def save_jsonl(obs: Obs, p: Params, path: Path) -> Path:
    j = oracle_costs(obs, p)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for i in range(len(obs)):
            rec = {f: getattr(obs, f)[i].tolist() for f in FIELDS + QUEUE_FIELDS}
            rec["n_servers"] = int(obs.n_servers)
            rec["oracle"] = int(np.argmin(j[i]))
            rec["J_s"] = [float(x) if np.isfinite(x) else None for x in j[i]]
            fh.write(json.dumps(rec) + "\n")
    return path


def load_jsonl(path: Path) -> Obs:
    recs = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    if not recs:
        raise ValueError(f"{path}: no states")
    arrs = {f: np.array([r[f] for r in recs]) for f in FIELDS}
    arrs.update({f: np.array([r[f] for r in recs]) for f in QUEUE_FIELDS if all(f in r for r in recs)})
    arrs["user"] = arrs["user"].astype(np.int64)
    return Obs(env=np.arange(len(recs)), **arrs)


def write_sets(scenario: Scenario, out: Path, seed: int = 0, sizes: dict | None = None) -> dict[str, str]:
    p = Params.from_scenario(scenario)
    return {name: str(save_jsonl(obs, p, Path(out) / f"{name}.jsonl")) for name, obs in _sets(p, seed, sizes).items()}

"""The columnar request format of ``POST /v1/decide/columns``: K snapshots field by field.

A ``schema.ColumnsIn`` body holds every field of the row format (``/v1/decide/batch``) once, as a
K x E matrix (servers), K values (device) or a K x T matrix (tasks): the same names, units and
element limits, without repeating every key for every server and task (64 six-server snapshots:
33 kB of server fields instead of 77 kB of row-format body), and NumPy reads each field in one call.
``parse`` checks what the schema cannot (rectangular shapes, rate or distance for every server,
the scenario's device CPU and task density, the history length), naming the field in a
``SnapshotError`` (422), and builds the one ``Board`` through ``snapshot._board``, the very
conversions of the row format: the decisions are those of ``/v1/decide/batch`` with the same
snapshots, bit for bit (a test compares them). ``columns_out`` lays the decided rounds back out
as K x T (x options) lists.
"""

from __future__ import annotations

import numpy as np

from ..sim.params import Params
from .columns import SERVER_COLS, Group, Parsed
from .snapshot import REL_TOL, SnapshotError, _board

DEFAULTS = {"uploading_mbit": 0.0, "uplink_backlog_mbit": 0.0}  # the row format's non-null defaults
LOCATIONS = np.array(["local", "edge", "reject"])


def _matrix(values, shape: tuple, loc: tuple, what: str) -> np.ndarray:
    """``values`` (nested lists; null -> nan) as a float64 array of ``shape``, or a SnapshotError at ``loc``."""
    try:
        a = np.array(values, np.float64)
    except ValueError:  # ragged rows
        a = None
    if a is None or a.shape != shape:
        raise SnapshotError(loc, f"must be {what}")
    return a


def _field(section, name: str, shape: tuple, loc: tuple, what: str) -> np.ndarray:
    values = getattr(section, name)
    if values is None:
        return np.full(shape, DEFAULTS.get(name, np.nan))
    return _matrix(values, shape, loc + (name,), what)


def parse(doc, p: Params) -> Parsed:
    """The ``Parsed`` (one group: K snapshots of E servers, T tasks each) of a validated
    ``schema.ColumnsIn``; raises ``SnapshotError`` naming the field that does not fit."""
    K, E, T = len(doc.device.local_wait_s), len(doc.servers.cpu_ghz[0]), len(doc.tasks.size_mbit[0])
    kxe = f"a {K} x {E} matrix: one row per snapshot (K = {K}, as device.local_wait_s), one column per server " \
          f"(E = {E}, as servers.cpu_ghz[0])"
    srv = np.stack([_field(doc.servers, n, (K, E), ("body", "servers"), kxe) for n in SERVER_COLS], -1)
    gap = np.argwhere(np.isnan(srv[..., 5]) & np.isnan(srv[..., 7]))
    if len(gap):
        k, e = gap[0].tolist()
        raise SnapshotError(("body", "servers", "rate_mbps", k, e), "give rate_mbps (Mbit/s) or distance_m (m) "
                                                                   "for every server (null in both here)")
    H = p.history
    if doc.backlog_history_gcycles is None:
        hist = np.repeat(srv[..., 3:4], H, -1)
    else:
        hist = _matrix(doc.backlog_history_gcycles, (K, E, H), ("body", "backlog_history_gcycles"),
                       f"a {K} x {E} x {H} array (sim.history_slots = {H} values per server, newest last)")
    kvec = f"{K} values, one per snapshot (as device.local_wait_s)"
    dev = np.stack([_field(doc.device, n, (K,), ("body", "device"), kvec)
                    for n in ("local_wait_s", "uplink_backlog_mbit", "uplink_wait_s", "cpu_ghz")], -1)
    _scenario_value(dev[:, 3], p.f_loc / 1e9, ("body", "device", "cpu_ghz"), "users.cpu_ghz")
    kxt = f"a {K} x {T} matrix: one row per snapshot (K = {K}), one column per task (T = {T}, as tasks.size_mbit[0])"
    tasks = np.stack([_field(doc.tasks, n, (K, T), ("body", "tasks"), kxt)
                      for n in ("size_mbit", "deadline_s", "gcycles_per_mbit")], -1)
    _scenario_value(tasks[..., 2], p.gamma / 1e3, ("body", "tasks", "gcycles_per_mbit"), "task.density_gcycles_per_mbit")
    tasks[..., 1] = np.where(np.isnan(tasks[..., 1]), p.deadline_s, tasks[..., 1])
    board = _board(srv, hist, dev[:, :3], tasks[..., :2], np.full(K, T, np.int64), p)
    return Parsed(K, {E: Group(list(range(K)), board, [("body",)] * K)}, columnar=True)


def _scenario_value(a: np.ndarray, want: float, loc: tuple, name: str) -> None:
    bad = np.argwhere(~np.isnan(a) & (np.abs(a - want) > REL_TOL * abs(want)))
    if len(bad):
        raise SnapshotError(loc + tuple(bad[0].tolist()), f"must equal the scenario's {name} = {want:g} "
                                                           "(the policy was built for it)")


def columns_out(rounds: list, K: int, T: int) -> dict:
    """The decisions (``schema.ColumnsOut`` less the policy; NumPy arrays for ``accesslog.dumps``) of the T rounds of a
    one-group ``Parsed`` of K snapshots: (idx, k, action, E, cost, meets, probs, ids) per round."""
    E = rounds[0][3]
    action = np.empty((K, T), np.int64)
    ids = np.empty((K, T), np.int64)
    cost = np.empty((K, T, E + 1))
    meets = np.empty((K, T, E + 1), bool)
    probs = None if rounds[0][6] is None else np.empty((K, T, rounds[0][6].shape[1]))
    for j, (_, k, a, _, c, m, pr, r_ids) in enumerate(rounds):
        action[k, j], ids[k, j], cost[k, j], meets[k, j] = a, r_ids, c, m
        if probs is not None:
            probs[k, j] = pr
    edge = (action >= 1) & (action <= E)
    server = [[s if s >= 0 else None for s in row] for row in np.where(edge, action - 1, -1).tolist()]
    return {"decision_id": ids, "action": action,  # arrays: ``accesslog.dumps`` writes them (orjson)
            "location": LOCATIONS[np.where(action == 0, 0, np.where(edge, 1, 2))].tolist(), "server": server,
            "estimated_latency_s": cost, "meets_deadline": meets, "probabilities": probs}


def to_columns(snapshots: list[dict]) -> dict:
    """The ``ColumnsIn`` body of row-format snapshot dicts (the client side: every snapshot with the
    same number of servers and of tasks); a field some rows leave out is null there (or its
    row-format default where it cannot be null; a missing history is the current backlog every slot)."""
    if len({len(s["servers"]) for s in snapshots}) != 1 or len({len(s["tasks"]) for s in snapshots}) != 1:
        raise ValueError("the columnar format needs the same number of servers and of tasks in every snapshot")

    def table(rows_of: list[list[dict]]) -> dict:
        keys = dict.fromkeys(k for rows in rows_of for r in rows for k in r if k != "backlog_history_gcycles")
        return {k: [[r.get(k, DEFAULTS.get(k)) for r in rows] for rows in rows_of] for k in keys}

    servers = [s["servers"] for s in snapshots]
    device = table([[s["device"]] for s in snapshots])
    out = {"servers": table(servers), "device": {k: [row[0] for row in v] for k, v in device.items()},
           "tasks": table([s["tasks"] for s in snapshots])}
    given = [r["backlog_history_gcycles"] for rows in servers for r in rows if r.get("backlog_history_gcycles")]
    if given:
        H = len(given[0])
        out["backlog_history_gcycles"] = [[r.get("backlog_history_gcycles") or [r["backlog_gcycles"]] * H
                                           for r in rows] for rows in servers]
    return out

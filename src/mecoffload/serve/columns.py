"""A request's snapshots as column arrays, grouped by number of servers (``Parsed``), and the
columnar fast path that reads them straight from the JSON body (``from_json``).

``prepare`` turns validated ``schema.Snapshot`` objects into a ``Parsed`` (``snapshot.board`` per
group of equal E, with its ``SnapshotError`` locations); ``concat`` joins the ``Parsed`` of
several requests (the coalescer's combined call). ``from_json`` gives the same ``Parsed`` from the
body bytes without building a pydantic object per server and task: ``orjson.loads``, then one list
per field across all snapshots (``map(dict.get, ...)``), its element types checked as pydantic's
strict mode does (floats take int or float, ints only int, never bool or str), then NumPy arrays
checked against the schema's own bounds (read from the models' field metadata) at once. It is
conservative: any doubt (an unknown or missing key, a wrong type, a value outside its bounds, a
history of the wrong length, a device or density value that is not the scenario's) returns None and
the request takes the pydantic path, whose 400/422 names the field exactly as before.
64 six-server snapshots: pydantic ``model_validate_json`` + ``board`` 2.1 + 1.1 ms, this ~0.6 ms
(loaded 2-core VM).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np

from ..sim.params import Params
from .schema import MAX_SERVERS, MAX_SNAPSHOTS, MAX_TASKS, DeviceIn, ServerIn, TaskIn
from .snapshot import REL_TOL, Board, _board, board

try:  # the serve extra pins orjson; without it every request takes the pydantic path
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover
    _loads = None


@dataclass
class Group:
    """The snapshots of a request that have E servers: their indices in the request, their Board
    and where each is in the body (``SnapshotError`` locations)."""

    idx: list[int]
    board: Board
    at: list[tuple]


@dataclass
class Parsed:
    """``n`` snapshots of one (or several coalesced) requests, grouped by E (insertion order = order
    of first appearance, as ``Service.decide`` decides them). Deciding it updates its boards: decide
    a ``Parsed`` once."""

    n: int
    groups: dict[int, Group]
    columnar: bool = False  # a /v1/decide/columns request: its decisions come back as K x T arrays


def prepare(snapshots: list, first: int, p: Params) -> Parsed:
    """``Parsed`` of validated ``schema.Snapshot`` objects; ``first`` < 0 marks a single-snapshot
    request (error locations without an index). Raises ``SnapshotError`` as ``snapshot.board``."""
    idx_by_e: dict[int, list[int]] = {}
    for i, s in enumerate(snapshots):
        idx_by_e.setdefault(len(s.servers), []).append(i)
    groups = {}
    for e, idx in idx_by_e.items():
        at = [("body",) if first < 0 else ("body", "snapshots", first + i) for i in idx]
        groups[e] = Group(idx, board([snapshots[i] for i in idx], at, p), at)
    return Parsed(len(snapshots), groups)


def concat(parts: list[Parsed]) -> Parsed:
    """One ``Parsed`` of the snapshots of ``parts`` in order (each part's indices shifted), on copies
    of their boards (deciding it leaves the parts as they were, for deciding each alone)."""
    if len(parts) == 1:
        return parts[0]
    pieces: dict[int, list[tuple[int, Group]]] = {}
    off = 0
    for part in parts:
        for e, g in part.groups.items():
            pieces.setdefault(e, []).append((off, g))
        off += part.n
    groups = {}
    for e, gs in pieces.items():
        idx = [o + i for o, g in gs for i in g.idx]
        groups[e] = Group(idx, _concat_boards([g.board for _, g in gs]), [a for _, g in gs for a in g.at])
    return Parsed(off, groups)


def _concat_boards(boards: list[Board]) -> Board:
    """Boards of the same E stacked along the snapshots; tasks padded to the longest (0 bits)."""
    t = max(b.rounds for b in boards)

    def pad(a: np.ndarray) -> np.ndarray:
        return a if a.shape[1] == t else np.pad(a, ((0, 0), (0, t - a.shape[1])))

    out = {}
    for f in dataclasses.fields(Board):
        arrays = [getattr(b, f.name) for b in boards]
        out[f.name] = np.concatenate([pad(a) for a in arrays] if f.name in ("bits", "deadline_s") else arrays)
    return Board(**out)


# ----------------------------------------------------------------------------- the JSON fast path

_NONE = type(None)
MIN_BYTES = 6_000
"""bodies shorter than this (~6 six-server snapshots) take pydantic: its per-object cost beats this
path's fixed cost of ~25 NumPy calls (one snapshot: 370 vs 430 µs, 16: 1.4 vs 1.1 ms, 64: 5.9 vs
2.8 ms, CPU time under a load average of 14)"""


def _limits(model) -> dict[str, tuple]:
    """{field: (lo, hi, lo exclusive, allowed element types, default)} from a pydantic model's
    field metadata (``schema._num`` / ``_int``); default ``...`` = required."""
    out = {}
    for name, f in model.model_fields.items():
        ann, meta = f.annotation, list(f.metadata)
        optional = typing.get_origin(ann) in (typing.Union, types.UnionType) and _NONE in typing.get_args(ann)
        if optional:
            inner = next(a for a in typing.get_args(ann) if a is not _NONE)
            if typing.get_origin(inner) is not typing.Annotated:  # a list (the history): handled on its own
                continue
            base, *extra = typing.get_args(inner)
            meta += [m for x in extra for m in getattr(x, "metadata", [x])]
        else:
            base = ann
        lo = next((m.ge for m in meta if hasattr(m, "ge")), None)
        gt = next((m.gt for m in meta if hasattr(m, "gt")), None)
        hi = next(m.le for m in meta if hasattr(m, "le"))
        allowed = {int} if base is int else {float, int}
        out[name] = (gt if lo is None else lo, hi, lo is None, frozenset(allowed | ({_NONE} if optional else set())),
                     ... if f.is_required() else f.default)
    return out


SERVER, DEVICE, TASK = _limits(ServerIn), _limits(DeviceIn), _limits(TaskIn)
SERVER_KEYS, DEVICE_KEYS, TASK_KEYS = (frozenset(m.model_fields) for m in (ServerIn, DeviceIn, TaskIn))
SERVER_COLS = ("cpu_ghz", "tasks_in_service", "tasks_uploading", "backlog_gcycles", "uploading_mbit", "rate_mbps",
               "mean_rate_mbps", "distance_m")  # the column order of snapshot.board's srv array
DEVICE_COLS = ("local_wait_s", "uplink_backlog_mbit", "uplink_wait_s", "cpu_ghz")
TASK_COLS = ("size_mbit", "deadline_s", "gcycles_per_mbit")
HIST_LO, HIST_HI = 0.0, 1e9  # schema: backlog_history_gcycles entries, Gcycles
_SNAP_KEYS = {"servers", "device", "tasks"}


class _Refused(Exception):
    """Not for the fast path: the pydantic path answers."""


def _bounds(names: tuple, limits: dict) -> tuple[np.ndarray, ...]:
    """(lo, hi, lo exclusive, may be absent) of the fields ``names``, as (C, 1) columns."""
    col = lambda i: np.array([limits[n][i] for n in names])[:, None]  # noqa: E731
    return col(0).astype(float), col(1).astype(float), col(2).astype(bool), np.array(
        [[_NONE in limits[n][3]] for n in names])


def _columns(rows: list[dict], names: tuple, limits: dict, bounds: tuple) -> np.ndarray:
    """Fields ``names`` of every dict in ``rows`` as a (len(rows), C) float64 array (absent optional
    -> nan), or ``_Refused`` (a wrong type, a value outside its bounds)."""
    cols = []
    for name in names:
        _, _, _, allowed, default = limits[name]
        vals = list(map(dict.get, rows, repeat(name), repeat(None if default is ... else default)))
        if not set(map(type, vals)) <= allowed:
            raise _Refused
        cols.append(vals)
    a = np.array(cols, np.float64)
    lo, hi, gt, optional = bounds
    with np.errstate(invalid="ignore"):
        ok = np.where(gt, a > lo, a >= lo) & (a <= hi)
    if not ok.all() and not (ok | (optional & np.isnan(a))).all():
        raise _Refused
    return a.T


SERVER_B, DEVICE_B, TASK_B = _bounds(SERVER_COLS, SERVER), _bounds(DEVICE_COLS, DEVICE), _bounds(TASK_COLS, TASK)


def _dicts(rows: list, keys: frozenset) -> None:
    if not set(map(type, rows)) <= {dict} or not set(chain.from_iterable(rows)) <= keys:
        raise _Refused


def from_json(body: bytes, single: bool, p: Params) -> Parsed | None:
    """The ``Parsed`` of a ``/v1/decide`` (``single``) or ``/v1/decide/batch`` body, equal to
    ``prepare`` of its pydantic models, or None when the pydantic path must answer it (also for a
    body under ``MIN_BYTES``, where pydantic is faster)."""
    if _loads is None or len(body) < MIN_BYTES:
        return None
    try:
        doc = _loads(body)
        return _parse(doc, single, p)
    except (_Refused, ValueError, TypeError, KeyError):  # orjson.JSONDecodeError is a ValueError
        return None


def _parse(doc, single: bool, p: Params) -> Parsed:
    if single:
        snaps = [doc]
    else:
        if type(doc) is not dict or doc.keys() != {"snapshots"} or type(doc["snapshots"]) is not list:
            raise _Refused
        snaps = doc["snapshots"]
    K = len(snaps)
    if not 1 <= K <= MAX_SNAPSHOTS or not set(map(type, snaps)) <= {dict}:
        raise _Refused
    for s in snaps:
        if s.keys() != _SNAP_KEYS or type(s["servers"]) is not list or type(s["tasks"]) is not list:
            raise _Refused
    server_lists = [s["servers"] for s in snaps]
    task_lists = [s["tasks"] for s in snaps]
    n_srv = np.fromiter(map(len, server_lists), np.int64, K)
    n_tasks = np.fromiter(map(len, task_lists), np.int64, K)
    if n_srv.min() < 1 or n_srv.max() > MAX_SERVERS or n_tasks.min() < 1 or n_tasks.max() > MAX_TASKS:
        raise _Refused
    servers = list(chain.from_iterable(server_lists))
    devices = [s["device"] for s in snaps]
    tasks = list(chain.from_iterable(task_lists))
    _dicts(servers, SERVER_KEYS)
    _dicts(devices, DEVICE_KEYS)
    _dicts(tasks, TASK_KEYS)
    srv = _columns(servers, SERVER_COLS, SERVER, SERVER_B)
    if (np.isnan(srv[:, 5]) & np.isnan(srv[:, 7])).any():  # neither rate_mbps nor distance_m
        raise _Refused
    hist = _history(servers, srv[:, 3], p.history)
    dev = _columns(devices, DEVICE_COLS, DEVICE, DEVICE_B)
    cpu = dev[:, 3]
    if (~np.isnan(cpu) & (np.abs(cpu - p.f_loc / 1e9) > REL_TOL * p.f_loc / 1e9)).any():
        raise _Refused  # not the scenario's device: board's 422 names it
    flat = _columns(tasks, TASK_COLS, TASK, TASK_B)
    dens = p.gamma / 1e3
    if (~np.isnan(flat[:, 2]) & (np.abs(flat[:, 2] - dens) > REL_TOL * abs(dens))).any():
        raise _Refused
    return _groups(K, single, n_srv, n_tasks, srv, hist, dev[:, :3], flat[:, :2], p)


def _history(servers: list[dict], backlog: np.ndarray, H: int) -> np.ndarray:
    """(servers, H) backlog histories in Gcycles: the given ones, else the current backlog every slot."""
    hist = np.repeat(backlog[:, None], H, 1)
    given = list(map(dict.get, servers, repeat("backlog_history_gcycles")))
    kinds = set(map(type, given))
    if kinds == {_NONE}:
        return hist
    if not kinds <= {list, _NONE}:
        raise _Refused
    rows = [i for i, h in enumerate(given) if h is not None]
    lists = [given[i] for i in rows]
    if set(map(len, lists)) != {H}:
        raise _Refused
    vals = list(chain.from_iterable(lists))
    if not set(map(type, vals)) <= {float, int}:
        raise _Refused
    a = np.array(vals, np.float64).reshape(len(rows), H)
    if not ((a >= HIST_LO) & (a <= HIST_HI)).all():
        raise _Refused
    hist[rows] = a
    return hist


def _groups(K: int, single: bool, n_srv, n_tasks, srv, hist, dev, flat, p: Params) -> Parsed:
    """Split the flat columns by number of servers and build each group's Board as ``board`` does."""
    multi = n_srv.min() != n_srv.max()
    srv_snap = np.repeat(np.arange(K), n_srv) if multi else None
    task_snap = np.repeat(np.arange(K), n_tasks) if multi else None
    groups = {}
    for e in dict.fromkeys(n_srv.tolist()):  # first-appearance order
        idx = np.flatnonzero(n_srv == e) if multi else np.arange(K)
        rows = np.isin(srv_snap, idx) if multi else slice(None)
        sel = flat[np.isin(task_snap, idx)] if multi else flat
        nt = n_tasks[idx]
        T = int(nt.max())
        tasks = np.zeros((len(idx), T, 2))
        if T == 1:
            tasks[:, 0] = sel
        else:
            row = np.repeat(np.arange(len(idx)), nt)
            tasks[row, np.arange(len(sel)) - np.repeat(np.cumsum(nt) - nt, nt)] = sel
        tasks[..., 1] = np.where(np.isnan(tasks[..., 1]), p.deadline_s, tasks[..., 1])
        b = _board(srv[rows].reshape(len(idx), e, 8), hist[rows].reshape(len(idx), e, p.history), dev[idx], tasks,
                   nt, p)
        ids = idx.tolist()
        groups[e] = Group(ids, b, [("body",) if single else ("body", "snapshots", i) for i in ids])
    return Parsed(K, groups)

"""Request and response bodies of the decision service (pydantic, with limits).

Every number is finite and non-negative (most have an upper bound too), every list is bounded, and
unknown fields are refused: a body outside these limits is answered 422 with the failing field's
path (``body.servers.3.rate_mbps``). Units are in every field name or description: s, Mbit,
Mbit/s, GHz, Gcycles, m.
"""

from __future__ import annotations

import typing
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

MAX_SERVERS = 256
MAX_TASKS = 4096
MAX_SNAPSHOTS = 4096
MAX_HISTORY = 64
MAX_BODY_BYTES = 1 << 20  # 1 MiB
MIN_GHZ = 1e-3  # 1 MHz: below it estimated latencies of large backlogs leave the float range
MIN_MBIT = 1e-6  # 1 bit (size) or 1 bit/s (rate, as sim.cost.uplink_rate's floor)


def _num(lo: float, hi: float, desc: str, *, gt: bool = False):
    """A finite float in [lo, hi] (or (lo, hi] with ``gt``)."""
    bound = {"gt": lo} if gt else {"ge": lo}
    return Annotated[float, Field(le=hi, allow_inf_nan=False, description=desc, **bound)]


def _int(hi: int, desc: str):
    return Annotated[int, Field(ge=0, le=hi, description=desc)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)  # no 0 -> false, "1" -> 1


class ServerIn(_Body):
    """One edge server as the device sees it now."""

    cpu_ghz: _num(MIN_GHZ, 10_000.0, "CPU frequency F_e of the server, GHz (>= 0.001)")
    tasks_in_service: _int(1_000_000, "tasks being processed at the server")
    tasks_uploading: _int(1_000_000, "tasks on their way to the server (uploading)")
    backlog_gcycles: _num(0.0, 1e9, "remaining work of the tasks in service at the server, Gcycles")
    uploading_mbit: _num(0.0, 1e9, "sizes D of the tasks on their way to the server (tasks_uploading), "
                                   "Mbit; with backlog_gcycles it makes the paper model's L_e") = 0.0
    rate_mbps: _num(MIN_MBIT, 1e6, "uplink rate of this device to the server now, Mbit/s (>= 1 bit/s, the "
                                   "simulator's floor); give it or distance_m") | None = None
    mean_rate_mbps: _num(MIN_MBIT, 1e6, "mean uplink rate over the fading, Mbit/s (the queue model's upload "
                                        "rate); default: from distance_m through the scenario's path loss, "
                                        "else rate_mbps") | None = None
    distance_m: _num(0.0, 1e7, "device-server distance, m; without rate_mbps the rate is the "
                               "scenario's path loss at mean fading") | None = None
    backlog_history_gcycles: Annotated[
        list[_num(0.0, 1e9, "Gcycles")] | None,
        Field(max_length=MAX_HISTORY, description="the server's L_e·γ (work in service and uploading) at the end "
              "of each of the last sim.history_slots slots, Gcycles, newest last (default: the current one every slot)"),
    ] = None

    @model_validator(mode="after")
    def _rate_or_distance(self) -> "ServerIn":
        if self.rate_mbps is None and self.distance_m is None:
            raise ValueError("give rate_mbps (Mbit/s) or distance_m (m)")
        return self


class DeviceIn(_Body):
    """The device that has the tasks."""

    cpu_ghz: _num(MIN_GHZ, 10_000.0, "local CPU frequency, GHz; must equal the scenario's users.cpu_ghz "
                                     "(GET /v1/policy); default: that value") | None = None
    local_wait_s: _num(0.0, 1e6, "time until the local CPU is free (work queued locally), s")
    uplink_backlog_mbit: _num(0.0, 1e9, "bits still queued in the device's uplink (all destinations), Mbit") = 0.0
    uplink_wait_s: _num(0.0, 1e6, "time until the device's radio is free: the queued bits over the mean rates "
                                  "to their servers, s; default: uplink_backlog_mbit at the mean of the "
                                  "servers' mean rates") | None = None


class TaskIn(_Body):
    """One task to place."""

    size_mbit: _num(MIN_MBIT, 1e6, "task size D, Mbit (>= 1 bit)")
    gcycles_per_mbit: _num(0.0, 1e6, "workload density γ, Gcycles/Mbit; must equal the scenario's "
                                     "task.density_gcycles_per_mbit (GET /v1/policy); default: that value",
                           gt=True) | None = None
    deadline_s: _num(0.0, 1e6, "deadline of the task, s (default: the scenario's); only sets meets_deadline",
                     gt=True) | None = None


class Snapshot(_Body):
    """The state a device sees when its tasks arrive."""

    servers: Annotated[list[ServerIn], Field(min_length=1, max_length=MAX_SERVERS)]
    device: DeviceIn
    tasks: Annotated[list[TaskIn], Field(min_length=1, max_length=MAX_TASKS)]


class BatchIn(_Body):
    """Independent snapshots, each decided on its own (its tasks in order)."""

    snapshots: Annotated[list[Snapshot], Field(min_length=1, max_length=MAX_SNAPSHOTS)]


class DecisionOut(BaseModel):
    """Where one task goes."""

    decision_id: int = Field(description="quote it in POST /v1/outcome")
    action: int = Field(description="0 = local, e = 1..E edge server e (1-based), E+1 = reject (scenarios "
                                    "with cost.allow_reject)")
    location: Literal["local", "edge", "reject"]
    server: int | None = Field(description="0-based index in `servers` when location is edge, else null")
    estimated_latency_s: list[float] = Field(description="latency C of every location under the scenario's "
                                                         "cost model (cost.model paper or queue), s; [local, "
                                                         "server 0, server 1, ...]")
    meets_deadline: list[bool] = Field(description="estimated_latency_s <= the task's deadline, per option")
    probabilities: list[float] | None = Field(description="the policy's probability of every action (local, "
                                                          "servers, [reject]); null for policies without one")


class DecideOut(BaseModel):
    policy: str
    decisions: list[DecisionOut]


class BatchOut(BaseModel):
    policy: str
    results: list[DecideOut]


class OutcomeIn(_Body):
    """What happened to a decided task."""

    decision_id: Annotated[int, Field(ge=0, le=2**62, description="from the decision")]
    realized_latency_s: _num(0.0, 1e6, "measured latency of the task, s (omit when dropped)") | None = None
    dropped: bool = Field(False, description="true when the task missed its deadline / was lost")

    @model_validator(mode="after")
    def _one(self) -> "OutcomeIn":
        if self.dropped == (self.realized_latency_s is not None):
            raise ValueError("give realized_latency_s (s) or dropped=true, not both")
        return self


class OutcomeOut(BaseModel):
    policy: str
    estimated_latency_s: float
    error_s: float | None = Field(description="realized - estimated, s (null when dropped)")


class PolicyIn(_Body):
    spec: Annotated[str, Field(min_length=1, max_length=1000, description="policy spec, e.g. setnet:checkpoints/setnet-comllm")]


class PolicyOut(BaseModel):
    policy: str
    scenario: str
    n_servers: int
    history_slots: int
    slot_s: float
    deadline_s: float
    device_cpu_ghz: float
    density_gcycles_per_mbit: float
    allow_local: bool
    allow_reject: bool
    cost_model: str = Field(description="cost.model of the scenario: paper (seed 001 eqs 2-8) or queue")
    deterministic: bool = Field(description="false for policies that draw random numbers (their "
                                            "decisions depend on the order of requests)")


# ----------------------------------------------------------------------------- the columnar format

def _column(f, depth: int, what: str):
    """The annotation and default of a row-format field ``f`` as a ``depth``-deep nested list (the
    same element limits; null elements only where the row format lets the field be absent)."""
    t = Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
    for limit in (MAX_SERVERS if what == "servers" else MAX_TASKS, MAX_SNAPSHOTS)[2 - depth:]:
        t = Annotated[list[t], Field(min_length=1, max_length=limit)]
    desc = f"{what}: {f.description or _inner_description(f.annotation)}"
    return (t, Field(description=desc)) if f.is_required() else \
        (t | None, Field(None, description=f"{desc} (absent: the row format's default)"))


def _inner_description(annotation) -> str:
    """The description of an optional field's element type (``_num(...) | None``)."""
    for arg in typing.get_args(annotation):
        for m in typing.get_args(arg)[1:]:
            if getattr(m, "description", None):
                return m.description
    return ""


def _columns_model(name: str, model, depth: int, what: str, doc: str):
    fields = {n: _column(f, depth, what) for n, f in model.model_fields.items() if n != "backlog_history_gcycles"}
    return create_model(name, __base__=_Body, __doc__=doc, **fields)


ServersColumns = _columns_model(
    "ServersColumns", ServerIn, 2, "K x E matrix (one row per snapshot, one column per server)",
    "The fields of ServerIn, each a K x E matrix (K snapshots, E servers each). rate_mbps or distance_m "
    "must be given for every server (a null in one may be filled by the other).")
DeviceColumns = _columns_model("DeviceColumns", DeviceIn, 1, "K values (one per snapshot)",
                               "The fields of DeviceIn, one value per snapshot.")
TasksColumns = _columns_model("TasksColumns", TaskIn, 2, "K x T matrix (T tasks per snapshot, decided in order)",
                              "The fields of TaskIn, each a K x T matrix: every snapshot has T tasks.")


class ColumnsIn(_Body):
    """K independent snapshots with the same number of servers E and tasks T, field by field (the
    columnar form of ``/v1/decide/batch``: the same fields, limits and decisions, a smaller body)."""

    servers: ServersColumns
    backlog_history_gcycles: Annotated[
        list[Annotated[list[Annotated[list[_num(0.0, 1e9, "Gcycles")], Field(max_length=MAX_HISTORY)]],
                       Field(min_length=1, max_length=MAX_SERVERS)]] | None,
        Field(max_length=MAX_SNAPSHOTS, description="K x E x sim.history_slots array: each server's L_e·γ at the end "
              "of the last slots, Gcycles, newest last (default: the current backlog every slot)")] = None
    device: DeviceColumns
    tasks: TasksColumns


class ColumnsOut(BaseModel):
    """The decisions of ``ColumnsIn``: [k][j] is the j-th task of snapshot k (decided in order)."""

    policy: str
    decision_id: list[list[int]] = Field(description="K x T: quote one in POST /v1/outcome")
    action: list[list[int]] = Field(description="K x T: 0 = local, e = 1..E edge server e (1-based), E+1 = reject")
    location: list[list[Literal["local", "edge", "reject"]]]
    server: list[list[int | None]] = Field(description="K x T: 0-based server index, null unless edge")
    estimated_latency_s: list[list[list[float]]] = Field(description="K x T x (E+1): latency C of [local, server 0, "
                                                                     "...] under the scenario's cost model, s")
    meets_deadline: list[list[list[bool]]] = Field(description="K x T x (E+1): estimated_latency_s <= deadline")
    probabilities: list[list[list[float]]] | None = Field(description="K x T x actions: the policy's probabilities "
                                                                      "(null for policies without them)")

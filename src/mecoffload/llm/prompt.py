"""Semantic prompt serialisation of an MEC state (seed 001 §IV-C; Table VI perturbations).

A prompt is ``prefix + state``:

- the **prefix** is fixed for a policy (system role, goal, answer format), so its KV cache is
  computed once and reused for every decision (``scoring``);
- the **state** lists the task and a variable-length list of options as key-value lines
  (DESIGN principle 5): ``A`` = run locally, ``B``, ``C``, ... = edge servers 1, 2, ...; every value
  carries its unit (semantic unit tagging) and every server its recent workload history
  (temporal load encoding). The scorer appends ``Decision:``; the answer is one label token.

``hints=True`` adds each option's estimated latency (eqs 2-7, computed from the same fields):
a 135M model cannot do the divisions itself, so this turns the decision into an argmin over
numbers on the page. It is on by default and recorded in every checkpoint.

Styles: ``standard`` (one line per option, words), ``compact`` (short keys, fewer tokens) and
``minimal`` (task size; per server only CPU, tasks and the estimate: ~4x fewer tokens than
standard, for training on a CPU where every prompt token costs ~3.5 ms) and ``cost`` (one line per
option: its label and its estimate as a fixed-width integer of ms, ``B 0264``, so that a small model
compares numbers digit by digit; under the ``units`` perturbation in s, ``B 0.264``; needs ``hints``) and
``costlabel`` (the same, estimate first: ``0264 B``; each label token follows its own number, so the model
can learn to copy the label that ends the smallest number wherever the line is: with ``sft.augment`` it
learns shuffled, relabelled, noisy and unit-varied prompts, which ``cost`` did not in our trials, docs/llm.md).
``queue=True`` (off by default: prompts without it are unchanged) adds one line, second in the
state, with the queue view of ``Obs``: the device's uplink wait and backlog, and per server the
tasks in service and uploading (``Queue: wait 0.120 s, backlog 3.10 Mbit; in service/uploading
B 1/0, C 0/2``; compact ``Q w=0.120s b=3.10Mbit B=1/0 C=0/2``).
Perturbations (Table VI): ``standard``; ``shuffle`` (fields of every line and the order of the
server lines shuffled; labels stay with their server); ``noisy`` (irrelevant sentences injected
between lines); ``units`` (MHz, kbit, kbps, ms instead of GHz, Mbit, Mbps, s).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..sim.scenario import load_scenario
from ..sim.cost import obs_latency
from ..sim.dynamics import Obs
from ..sim.params import Params

LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # action a -> LABELS[a]; E <= 51
ANSWER_CUE = "Decision:"
PERTURBATIONS = ("standard", "shuffle", "noisy", "units")
STYLES = ("standard", "compact", "minimal", "cost", "costlabel")

NOISE = [
    "Note: the maintenance window is next Tuesday.",
    "Reminder: firmware 2.4.1 is installed on all nodes.",
    "The weather at the site is cloudy with light wind.",
    "Operator comment: logs were rotated this morning.",
    "Info: the cooling system reports normal temperature.",
    "Note: user interface theme was changed to dark mode.",
]


@dataclass(frozen=True)
class PromptConfig:
    style: str = "standard"
    """standard | compact | minimal (CPU budget: per option only F, N and the estimate) | cost (only the estimate)"""
    perturbation: str = "standard"
    """standard | shuffle | noisy | units (seed 001 Table VI)"""
    hints: bool = True
    """add each option's estimated latency (eqs 2-7)"""
    history: int = 3
    """newest load-history entries listed per server"""
    goal: str = "latency"
    """latency (seed 001: minimise the task's generalized cost) | maxdelay (seed 000: balance load)"""
    queue: bool = False
    """add the queue-view line (uplink wait/backlog, tasks in service/uploading per server)"""

    def to_dict(self) -> dict:
        return asdict(self)


def _units(pert: str) -> dict:
    if pert == "units":
        return {"hz": (1e6, "MHz"), "bit": (1e3, "kbit"), "bps": (1e3, "kbps"), "s": (1e-3, "ms")}
    return {"hz": (1e9, "GHz"), "bit": (1e6, "Mbit"), "bps": (1e6, "Mbps"), "s": (1.0, "s")}


def _num(x: float) -> str:
    """Three significant digits, no exponent."""
    x = float(x)
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def instruction(cfg: PromptConfig, p: Params) -> str:
    """The fixed part of the prompt (cached once)."""
    if cfg.goal == "maxdelay":
        goal = ("Goal: assign the task to one edge server so that the maximum delay over all servers "
                "stays as small as possible (balance the load).")
    else:
        goal = ("Goal: choose where to run the task so that its latency (upload + waiting + execution) "
                "is as small as possible; finishing after the deadline costs a large penalty.")
    local = "" if p.allow_local else " Local execution is not allowed."
    return ("You control task offloading in a mobile edge computing network. A device has one task; it can run "
            f"it locally (option A) or upload it to one edge server.{local}\n{goal}\n"
            "Answer with the letter of the best option only.")


def state_text(obs: Obs, i: int, p: Params, cfg: PromptConfig, rng: np.random.Generator | None = None,
               labels: str | None = None, scale: float = 1.0) -> str:
    """The state part of the prompt for row ``i`` of ``obs`` (the answer cue is added by ``scoring``).

    ``labels``: the E+1 option labels (default ``LABELS[:E+1]``); training augmentation
    (``sft.augment``) gives the servers other letters so that the model learns to copy the label
    next to the smallest estimate, whatever the letter (other server counts, Table IV).
    ``scale``: multiplies every listed estimate (training augmentation only: the argmin is unchanged, and the
    model sees numbers of the size that larger tasks produce, Table III).
    """
    u = _units(cfg.perturbation)
    hz, bit, bps, sec = u["hz"], u["bit"], u["bps"], u["s"]
    rng = rng if rng is not None else np.random.default_rng(i)
    E = obs.n_servers
    labels = labels or LABELS[:E + 1]
    c = None
    if cfg.hints:
        c = obs_latency(obs.take(slice(i, i + 1)), p)[0] * scale
    compact = cfg.style in ("compact", "minimal", "cost", "costlabel")
    minimal = cfg.style in ("minimal", "cost", "costlabel")

    def f(key_std: str, key_c: str, val: float, unit: tuple) -> str:
        v = _num(val / unit[0])
        return f"{key_c}={v}{unit[1]}" if compact else f"{key_std} {v} {unit[1]}"

    task = [f("task size", "D", obs.bits[i], bit), f("deadline", "T", p.deadline_s, sec),
            f("local CPU", "f", p.f_loc, hz), f("local queue wait", "w", obs.local_wait_s[i], sec)]
    loc = [f("local CPU", "f", p.f_loc, hz), f("queue wait", "w", obs.local_wait_s[i], sec)]
    if minimal:
        task, loc = task[:1], []
    if c is not None:
        loc.append(f("est. latency", "c", c[0], sec))
    servers = []
    H = min(cfg.history, obs.hist.shape[-1])
    for e in range(E):
        hist = obs.hist[i, e, obs.hist.shape[-1] - H:] / bit[0] if H else []
        hs = "/".join(_num(h) for h in hist)
        fields = [f("CPU", "F", obs.f_edge[i, e], hz), f("uplink", "R", obs.rate[i, e], bps),
                  ("N=" if compact else "tasks ") + str(int(obs.n_active[i, e])),
                  f("backlog", "L", obs.backlog_bits[i, e], bit),
                  (f"H={hs}{bit[1]}" if compact else f"load history {hs} {bit[1]}")]
        if minimal:
            fields = [fields[0], fields[2]] if cfg.style == "minimal" else []
        if c is not None:
            fields.append(f("est. latency", "c", c[e + 1], sec))
        servers.append((e, fields))
    if cfg.perturbation == "shuffle":
        task = [task[j] for j in rng.permutation(len(task))]
        loc = [loc[j] for j in rng.permutation(len(loc))]
        servers = [(e, [fl[j] for j in rng.permutation(len(fl))]) for e, fl in servers]
        servers = [servers[j] for j in rng.permutation(len(servers))]
    sep = " " if compact else ", "
    if cfg.style in ("cost", "costlabel"):  # "B 0264" / "0264 B": label and the estimate as fixed-width ms
        if c is None:
            raise ValueError(f"prompt style {cfg.style!r} lists the estimates: it needs hints=True")
        ms = cfg.perturbation != "units"

        def line(a: int) -> str:
            v = _fixed(c[a], ms)
            return f"{labels[a]} {v}" if cfg.style == "cost" else f"{v} {labels[a]}"

        lines = [f"Task latency per option in {'ms' if ms else 's'}:",
                 line(0) + ("" if p.allow_local else " (not allowed)")]
        lines += [line(e + 1) for e, _ in servers]
        if cfg.queue:
            lines.insert(1, _queue_line(obs, i, labels, True, u))
        return _add_noise(lines, cfg, rng)
    lines = [("Task " if compact else "Task: ") + sep.join(task)]
    lines.append(f"{labels[0]}: " + ("local " if compact else "run locally, ") + sep.join(loc)
                 + ("" if p.allow_local else " (not allowed)"))
    for e, fl in servers:
        lines.append(f"{labels[e + 1]}: " + (f"S{e + 1} " if compact else f"edge server {e + 1}, ") + sep.join(fl))
    if cfg.queue:
        lines.insert(1, _queue_line(obs, i, labels, compact, u))
    return _add_noise(lines, cfg, rng)


def _queue_line(obs: Obs, i: int, labels: str, compact: bool, u: dict) -> str:
    """The queue-view line of row i: uplink wait (s) and backlog (bit), per server in service/uploading."""
    sec, bit = u["s"], u["bit"]
    w, b = _num(obs.uplink_wait_s[i] / sec[0]), _num(obs.uplink_bits[i] / bit[0])
    per = [f"{labels[e + 1]}{'=' if compact else ' '}{int(obs.n_in_service[i, e])}/{int(obs.n_uploading[i, e])}"
           for e in range(obs.n_servers)]
    if compact:
        return f"Q w={w}{sec[1]} b={b}{bit[1]} " + " ".join(per)
    return f"Queue: uplink wait {w} {sec[1]}, uplink backlog {b} {bit[1]}; in service/uploading " + ", ".join(per)


def _fixed(val_s: float, ms: bool) -> str:
    """An estimate for the ``cost`` style: ``0264`` (ms, 4 digits, capped at 9999) or ``0.264`` (s)."""
    return f"{min(9999, int(round(val_s * 1e3))):04d}" if ms else f"{val_s:.3f}"


def _add_noise(lines: list[str], cfg: PromptConfig, rng: np.random.Generator) -> str:
    if cfg.perturbation == "noisy":
        for s in rng.choice(len(NOISE), size=2, replace=False):
            lines.insert(int(rng.integers(1, len(lines) + 1)), NOISE[s])
    return "\n".join(lines)


def state_texts(obs: Obs, p: Params, cfg: PromptConfig, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [state_text(obs, i, p, cfg, rng) for i in range(len(obs))]


def corpus_for_tokenizer() -> list[str]:
    """Texts covering every word the prompts use (for the tiny word-level test tokenizer)."""
    sc = load_scenario("comllm")
    p = Params.from_scenario(sc)
    rng = np.random.default_rng(0)
    E = 3
    obs = Obs(env=np.zeros(2, np.int64), bits=np.array([3e6, 2e6]), user=np.zeros(2, np.int64),
              local_wait_s=np.array([0.0, 0.1]), rate=rng.uniform(5e6, 2e7, (2, E)), f_edge=rng.uniform(2e10, 4.8e10, (2, E)),
              n_active=np.ones((2, E)), backlog_bits=rng.uniform(0, 5e6, (2, E)), hist=np.ones((2, E, 5)),
              dist=np.ones((2, E)))
    out = []
    for goal in ("latency", "maxdelay"):
        for allow in (True, False):
            out.append(instruction(PromptConfig(goal=goal), Params(**{**p.__dict__, "allow_local": allow})))
    for pert in PERTURBATIONS:
        for style in STYLES:
            out += state_texts(obs, p, PromptConfig(style=style, perturbation=pert))
    out += NOISE + [" ".join(LABELS), "0123456789 . / = : , ( ) " + ANSWER_CUE]
    return out

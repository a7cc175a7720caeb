"""`llm-sft`: supervised fine-tuning on oracle labels (seed 001 §IV-C, eqs 15-16), LoRA (peft).

Text mode: the prompt of ``prompt`` is followed by the oracle's label token; the loss is the
negative log-likelihood of that answer token only (eq 16 with |y| = 1; the prompt is not a
target). Encoder mode (seed 003): cross-entropy of the action head on the oracle label, training
the numeric encoder, the head and the LoRA adapter together.

Also holds what all LLM learners share: ``LLMConfig``, building the trainable policy (backbone +
LoRA stages already merged + a fresh LoRA + encoder), checkpoint writing, evaluation on a state set.
Checkpoint folder: ``model.safetensors`` (``lora.<stage>.*`` adapters, applied and merged in
order; ``encoder.*``) + ``config.json`` + ``curve.png``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..core.errors import UserError, clip
from ..learn.checkpoint import CheckpointError, save_checkpoint
from ..learn.curves import curve_panels, plot_curves
from ..policies.setnet import FEATURES
from ..learn.guards import finite_loss
from ..sim.scenario import Scenario
from ..sim.cost import oracle_actions
from ..sim.metrics import static_metrics
from ..sim.params import Params
from . import LLMError, require_llm
from .datasets import collect_states, save_jsonl
from .encoder import EncoderScorer, build_encoder, embedding_std
from .model import add_lora, load_backbone, lora_tensors, merge_lora, prune_layers
from .prompt import PromptConfig
from .scoring import TextScorer


SFT_SCHEDULES = ("constant", "linear")


@dataclass
class LLMConfig:
    mode: str = "text"
    """text (prompt + label tokens) | encoder (numeric encoder + action head)"""
    style: str = "compact"
    """prompt style: standard | compact (fewer tokens, the default for training on CPU)"""
    hints: bool = True
    """list each option's estimated latency in the prompt"""
    history: int = 2
    """load-history entries per server in the prompt"""
    layers: int | None = None
    """keep only the first N decoder layers (structural pruning; None = all)"""
    keep_last: int = 0
    """with ``layers``: also keep the last N decoder layers (text mode needs them to read out labels)"""
    lora_r: int = 8
    """LoRA rank (q, k, v, o projections; + gate/up/down with ``lora_mlp``)"""
    lora_alpha: int = 16
    """LoRA alpha"""
    lora_mlp: bool = False
    """also adapt the MLP projections"""
    encoder_width: int = 128
    """hidden width of the numeric encoder and action head"""
    feature_set: int = 1
    """what the policy reads (``policies.setnet.FEATURES``): 1 = seed 001's paper features (absent in an
    old config.json = 1); 2 = + the queue view of ``Obs`` (encoder: 10 task / 16 server columns; text:
    the prompt's queue line)"""
    sft_states: int = 1000
    """SFT set size (seed 001 §V-A)"""
    grpo_states: int = 2000
    """GRPO set size"""
    test_states: int = 1000
    """test set size"""
    sft_epochs: int = 1
    """passes over the SFT set"""
    sft_steps: int | None = None
    """cap on SFT gradient steps (None = epochs × states / batch)"""
    batch: int = 8
    """states per gradient step (SFT and GRPO)"""
    lr_sft: float = 2e-4
    """AdamW learning rate of LoRA in SFT"""
    augment: float = 0.0
    """text SFT: share of prompts drawn with a random Table VI perturbation and random server letters
    (half of them also with all estimates scaled by one factor in [0.5, 8])"""
    sft_schedule: str = "constant"
    """SFT learning rate over the steps: constant | linear (20-step warm-up, then linear decay to 5 %)"""
    lr_encoder: float = 1e-3
    """AdamW learning rate of the numeric encoder and head"""
    grpo_steps: int | None = None
    """GRPO updates (None = one pass over the GRPO set)"""
    group_size: int = 8
    """G: actions sampled from π_old per state (eq 17)"""
    clip_eps: float = 0.2
    """ε of the clipped ratio (eq 19)"""
    kl_beta: float = 0.005
    """β of the exact KL(π_θ‖π_ref) to the frozen SFT policy (eq 19)"""
    lr_grpo: float = 5e-6
    """AdamW learning rate of LoRA in GRPO (Table I)"""
    lr_grpo_encoder: float = 1e-4
    """AdamW learning rate of encoder + head in GRPO"""
    cost_cap_slots: float = 30.0
    """rewards are −min(cost, cap) in slots"""
    dtype: str = "float32"
    """backbone dtype: float32 | bfloat16"""

    def __post_init__(self):
        self.check()

    def check(self) -> "LLMConfig":
        """Every numeric knob in its range (one UserError line naming the ``llm finetune`` flag or the
        field): learning rates finite in (0, 1], sizes >= 1, ``keep_last`` only with ``layers``."""
        for name in ("lr_sft", "lr_encoder", "lr_grpo", "lr_grpo_encoder"):
            _check_number(name, getattr(self, name), 0.0, 1.0, lo_open=True)
        _check_number("augment", self.augment, 0.0, 1.0)
        _check_number("clip_eps", self.clip_eps, 0.0, 10.0, lo_open=True)
        _check_number("kl_beta", self.kl_beta, 0.0, 1e3)
        _check_number("cost_cap_slots", self.cost_cap_slots, 0.0, 1e9, lo_open=True)
        for name, lo in (("batch", 1), ("lora_r", 1), ("group_size", 2), ("sft_epochs", 1), ("sft_states", 1),
                         ("grpo_states", 0), ("test_states", 1), ("encoder_width", 1), ("keep_last", 0), ("history", 0)):
            _check_int(name, getattr(self, name), lo)
        for name in ("layers", "sft_steps", "grpo_steps"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), 1)
        if isinstance(self.feature_set, bool) or self.feature_set not in FEATURES:
            raise UserError(f"{_where('feature_set')} must be one of {', '.join(map(str, sorted(FEATURES)))} "
                            f"(got {clip(self.feature_set, 40)})")
        if self.keep_last and self.layers is None:
            raise UserError(f"--keep-last {self.keep_last} needs --layers N (it keeps the last layers of a pruned stack)")
        return self

    def prompt(self, p: Params) -> PromptConfig:
        return PromptConfig(style=self.style, hints=self.hints, history=self.history,
                            goal="latency" if p.allow_local else "maxdelay", queue=self.feature_set >= 2)

    @classmethod
    def from_dict(cls, d: dict) -> "LLMConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


FLAGS = {"lr_sft": "--lr-sft", "lr_grpo": "--lr-grpo", "augment": "--augment", "batch": "--batch", "lora_r": "--lora-r",
         "layers": "--layers", "keep_last": "--keep-last", "sft_steps": "--sft-steps", "grpo_steps": "--grpo-steps",
         "sft_states": "--sft-states", "grpo_states": "--grpo-states",
         "feature_set": "--features"}
"""LLMConfig field -> its ``mecoffload llm finetune`` flag (error messages name the flag)"""

INT_MAX = 100_000_000
"""upper bound of every integer knob (sizes, steps, ranks)"""


def _where(name: str) -> str:
    return FLAGS.get(name, f"LLM config field '{name}'")


def _check_number(name: str, value, lo: float, hi: float, lo_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and (value > lo if lo_open else value >= lo) and value <= hi
    if not ok:
        rel = "<" if lo_open else "<="
        raise UserError(f"{_where(name)} must be a finite number with {lo:g} {rel} {name} <= {hi:g} (got {clip(value, 40)})")


def _check_int(name: str, value, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= INT_MAX:
        raise UserError(f"{_where(name)} must be an integer with {lo} <= {name} <= {INT_MAX} (got {clip(value, 40)})")


@dataclass
class Trainable:
    """A policy under training: peft model (fresh LoRA on top of merged earlier stages) + scorer."""

    backbone: str
    cfg: LLMConfig
    model: object
    scorer: object
    encoder: object | None
    stages: dict = field(default_factory=dict)  # name -> LoRA tensors already merged into the base
    load_s: float = 0.0

    def trainable_params(self):
        ps = [p for p in self.model.parameters() if p.requires_grad]
        enc = list(self.encoder.parameters()) if self.encoder is not None else []
        return ps, enc

    def log_probs(self, obs, grad: bool):
        return self.scorer.log_probs(obs, grad=grad)

    def ref_log_probs(self, obs, ref_encoder=None):
        """π of the merged base (LoRA disabled) — the frozen reference after ``stages``."""
        import torch

        with torch.no_grad(), self.model.disable_adapter():
            if self.encoder is None:
                return self.scorer.log_probs(obs, grad=False)
            enc = self.scorer.encoder
            self.scorer.encoder = ref_encoder if ref_encoder is not None else enc
            try:
                return self.scorer.log_probs(obs, grad=False)
            finally:
                self.scorer.encoder = enc


def build_policy_model(backbone: str, cfg: LLMConfig, p: Params, stages: dict | None = None,
                       encoder_tensors: dict | None = None, trainable: bool = True) -> Trainable:
    """Backbone (+ pruning) with ``stages`` merged; a fresh LoRA if ``trainable``; scorer for cfg.mode."""
    bb = load_backbone(backbone, cfg.dtype)
    model = prune_layers(bb.model, cfg.layers, cfg.keep_last)
    for tensors in (stages or {}).values():
        model = merge_lora(model, tensors, cfg.lora_r, cfg.lora_alpha, cfg.lora_mlp)
    if trainable:
        model = add_lora(model, cfg.lora_r, cfg.lora_alpha, cfg.lora_mlp)
    encoder = None
    if cfg.mode == "encoder":
        import torch

        with torch.random.fork_rng():
            torch.manual_seed(0)
            encoder = build_encoder(bb.hidden_size, embedding_std(bb.model), cfg.encoder_width, cfg.feature_set)
        if encoder_tensors:
            encoder.load_state_dict(encoder_tensors)
        scorer = EncoderScorer(model, bb.tokenizer, p, encoder, cfg.prompt(p), cfg.feature_set)
    elif cfg.mode == "text":
        scorer = TextScorer(model, bb.tokenizer, p, cfg.prompt(p))
    else:
        raise ValueError(f"mode must be text or encoder (got {cfg.mode!r})")
    return Trainable(backbone, cfg, model, scorer, encoder, dict(stages or {}), bb.load_s)


def checkpoint_tensors(tr: Trainable, new_stage: str | None) -> dict:
    out = {}
    for name, tensors in tr.stages.items():
        out.update({f"lora.{name}.{k}": v for k, v in tensors.items()})
    if new_stage is not None:
        out.update({f"lora.{new_stage}.{k}": v for k, v in lora_tensors(tr.model).items()})
    if tr.encoder is not None:
        out.update({f"encoder.{k}": v for k, v in tr.encoder.state_dict().items()})
    return out


def split_tensors(tensors: dict) -> tuple[dict, dict]:
    """(stages {name: lora tensors} in stored order, encoder tensors) from a checkpoint."""
    stages: dict[str, dict] = {}
    enc = {}
    for k, v in tensors.items():
        if k.startswith("lora."):
            _, stage, rest = k.split(".", 2)
            stages.setdefault(stage, {})[rest] = v
        elif k.startswith("encoder."):
            enc[k[len("encoder."):]] = v
    order = ["sft", "grpo"]
    return {s: stages[s] for s in sorted(stages, key=lambda s: order.index(s) if s in order else 9)}, enc


def write_checkpoint(out: Path, kind: str, tr: Trainable, new_stage: str | None, scenario: Scenario, p: Params,
                     seed: int, extra: dict) -> None:
    stages = list(tr.stages) + ([new_stage] if new_stage else [])
    config = {"kind": kind, "backbone": tr.backbone, "mode": tr.cfg.mode, "llm": asdict(tr.cfg),
              "prompt": tr.cfg.prompt(p).to_dict(), "lora_stages": stages, "trained_on": scenario.name,
              "trained_n_servers": p.n_servers, "seed": seed, **extra}
    save_checkpoint(Path(out), checkpoint_tensors(tr, new_stage), config)


def evaluate_set(tr: Trainable, obs, p: Params, batch: int = 32) -> tuple[dict, np.ndarray]:
    """Greedy actions on a state set and their static metrics (AL, TDR, PR, LBI)."""
    import torch

    acts = []
    with torch.no_grad():
        for s in range(0, len(obs), batch):
            acts.append(tr.scorer.log_probs(obs.take(np.arange(s, min(s + batch, len(obs)))), grad=False).argmax(1).numpy())
    a = np.concatenate(acts).astype(np.int64)
    return static_metrics(a, obs, p), a


def sft_stage(tr: Trainable, obs, p: Params, cfg: LLMConfig, seed: int, bar=None, curve: dict | None = None) -> dict:
    """Train ``tr`` (fresh LoRA + encoder) on the oracle labels of ``obs``; returns summary numbers."""
    import torch

    labels = torch.from_numpy(oracle_actions(obs, p))
    lora_ps, enc_ps = tr.trainable_params()
    groups = [{"params": lora_ps, "lr": cfg.lr_sft}]
    if enc_ps:
        groups.append({"params": enc_ps, "lr": cfg.lr_encoder})
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    n = len(obs)
    per_epoch = max(1, n // cfg.batch)
    total = per_epoch * cfg.sft_epochs if cfg.sft_steps is None else cfg.sft_steps
    if cfg.sft_schedule not in SFT_SCHEDULES:
        raise ValueError(f"sft_schedule must be one of {', '.join(SFT_SCHEDULES)} (got {cfg.sft_schedule!r})")
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 1.0 if cfg.sft_schedule == "constant" else min(1.0, (s + 1) / 20) * max(0.05, 1 - s / total))
    g = np.random.default_rng(seed)
    g_aug = np.random.default_rng([seed, 1])
    curve = curve if curve is not None else {}
    curve.setdefault("sft_loss", [])
    curve.setdefault("sft_acc", [])
    job = bar.add_task("SFT", total=total) if bar else None
    tr.model.train()
    perm = g.permutation(n)
    t0 = time.perf_counter()
    for step in range(total):
        if (step % per_epoch) == 0 and step:
            perm = g.permutation(n)
        idx = perm[(step % per_epoch) * cfg.batch:(step % per_epoch + 1) * cfg.batch]
        sub = obs.take(idx)
        y = labels[idx]
        if tr.encoder is None:  # eq 16: NLL of the answer token over the whole vocabulary
            sc = tr.scorer
            ids, lab = sc.encode_augmented(sub, g_aug, cfg.augment) if cfg.augment else (sc.encode(sub), None)
            logits = sc.answer_logits(ids, grad=True)
            target = y if lab is None else torch.from_numpy(lab[np.arange(len(idx)), y.numpy()])
            loss = torch.nn.functional.cross_entropy(logits.float(), sc.label_ids[target])
            pred = sc.action_log_probs(logits.detach(), sub.n_servers, lab).argmax(1)
        else:
            logp = tr.scorer.log_probs(sub, grad=True)
            loss = torch.nn.functional.nll_loss(logp, y)
            pred = logp.detach().argmax(1)
        value = finite_loss(loss.item(), "SFT loss", step, "a lower --lr-sft")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        curve["sft_loss"].append(value)
        curve["sft_acc"].append(float((pred == y).float().mean()))
        if bar:
            bar.update(job, advance=1, description=f"SFT loss {np.mean(curve['sft_loss'][-10:]):.3f} "
                                                   f"acc {np.mean(curve['sft_acc'][-10:]):.2f}")
    tr.model.eval()
    return {"sft_steps": total, "sft_wall_s": round(time.perf_counter() - t0, 1),
            "sft_final_loss": float(np.mean(curve["sft_loss"][-10:])), "sft_final_acc": float(np.mean(curve["sft_acc"][-10:]))}


def make_progress(progress: bool):
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=Console(stderr=True), disable=not progress, transient=True)


def plot_curve(curve: dict, path: Path) -> None:
    """``curve.png`` of an LLM learner: SFT loss / accuracy, GRPO reward / KL (the entries it has)."""
    plot_curves(path, curve_panels(curve, ("sft_loss", "sft_acc", "grpo_reward", "grpo_kl")), panel_size=(4, 3.2), dpi=90)


def train(scenario: Scenario, out: Path, steps: int | None = None, seed: int = 0, progress: bool = False,
          backbone: str | None = None, config: LLMConfig | None = None, data: dict | None = None) -> dict:
    """SFT on ``cfg.sft_states`` oracle-labelled states; writes an ``llm-sft`` checkpoint to ``out``."""
    try:
        torch = require_llm()
    except LLMError as exc:
        raise CheckpointError(str(exc)) from None
    cfg = config or LLMConfig()
    if steps is not None:
        cfg.sft_steps = steps
    backbone = backbone or "smollm2-135m"
    p = Params.from_scenario(scenario)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    try:
        tr = build_policy_model(backbone, cfg, p)
    except LLMError as exc:
        raise CheckpointError(str(exc)) from None
    data = data or {}
    obs = data.get("sft") or collect_states(p, cfg.sft_states, seed * 10 + 1)
    test = data.get("test") or collect_states(p, min(cfg.test_states, 200), seed * 10 + 3)
    out = Path(out)
    save_jsonl(obs, p, out / "data" / "sft.jsonl")
    curve: dict = {}
    with make_progress(progress) as bar:
        summary = sft_stage(tr, obs, p, cfg, seed, bar, curve)
    metrics, _ = evaluate_set(tr, test, p)
    wall = time.perf_counter() - t0
    write_checkpoint(out, "llm-sft", tr, "sft", scenario, p, seed, {"wall_s": round(wall, 1), "test": metrics, **summary})
    plot_curve(curve, out / "curve.png")
    return {"kind": "llm-sft", "out": str(out), "backbone": backbone, "mode": cfg.mode, "wall_s": round(wall, 1),
            **summary, "test_metrics": metrics}

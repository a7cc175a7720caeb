"""LLM policies on a tiny random-initialised Llama built in code (no download, fast)."""

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("peft")
torch = pytest.importorskip("torch")

from mecoffload.llm.datasets import collect_states, load_jsonl, save_jsonl  # noqa: E402
from mecoffload.sim.metrics import static_metrics  # noqa: E402
from mecoffload.llm.prompt import LABELS, PERTURBATIONS, STYLES, PromptConfig, state_text  # noqa: E402
from mecoffload.policies.oracle import oracle_costs  # noqa: E402
from mecoffload.scenario import load_scenario  # noqa: E402
from mecoffload.sim.params import Params  # noqa: E402


@pytest.fixture(scope="module")
def p():
    return Params.from_scenario(load_scenario("comllm"))


@pytest.fixture(scope="module")
def obs(p):
    return collect_states(p, 12, 5)


@pytest.fixture(scope="module")
def tiny():
    from mecoffload.llm.model import load_backbone

    return load_backbone("tiny")


def test_prompt_lists_every_server_with_units(obs, p):
    text = state_text(obs, 0, p, PromptConfig())
    for e in range(p.n_servers):
        assert f"{LABELS[e + 1]}: edge server {e + 1}" in text
    assert "GHz" in text and "Mbit" in text and "Mbps" in text and "load history" in text
    assert text.startswith("Task:")


def test_prompt_perturbations_keep_the_information(obs, p):
    std = state_text(obs, 0, p, PromptConfig(), np.random.default_rng(0))
    shuf = state_text(obs, 0, p, PromptConfig(perturbation="shuffle"), np.random.default_rng(0))
    import re

    def parts(t):
        return sorted(re.split(r", |: |\n", t))

    assert parts(std) == parts(shuf) and std != shuf
    noisy = state_text(obs, 0, p, PromptConfig(perturbation="noisy"), np.random.default_rng(0))
    assert len(noisy.splitlines()) == len(std.splitlines()) + 2
    units = state_text(obs, 0, p, PromptConfig(perturbation="units"))
    assert "MHz" in units and "kbit" in units and "GHz" not in units
    for style in STYLES:
        assert state_text(obs, 0, p, PromptConfig(style=style)).count("\n") == p.n_servers + 1


def test_prompt_variable_number_of_servers(p):
    from mecoffload.sim.params import Params

    p3 = Params.from_scenario(load_scenario("comllm").with_overrides({"edge.count": 3}))
    o = collect_states(p3, 2, 1)
    assert state_text(o, 0, p3, PromptConfig()).count("edge server") == 3


def test_scoring_matches_full_forward_and_prefix_cache(tiny, obs, p):
    """Exact distribution over the E+1 labels, equal to a plain forward pass without the cache."""
    from mecoffload.llm.scoring import TextScorer

    sc = TextScorer(tiny.model, tiny.tokenizer, p, PromptConfig(style="compact"))
    sc.prefix.frozen = True
    lp = sc.log_probs(obs, seed=0)
    assert lp.shape == (len(obs), p.n_servers + 1)
    assert torch.allclose(lp.exp().sum(1), torch.ones(len(obs)), atol=1e-5)
    kv = sc.prefix._kv
    lp2 = sc.log_probs(obs, seed=0)
    assert sc.prefix._kv is kv  # prefix computed once and reused
    assert torch.allclose(lp, lp2)
    # reference: full prompt, one row at a time, no cache
    ids = sc.encode(obs.take(np.arange(3)), seed=0)
    for r in range(3):
        full = torch.tensor([sc.prefix_ids[0].tolist() + ids[r]])
        with torch.no_grad():
            logits = tiny.model(input_ids=full).logits[0, -1]
        ref = torch.log_softmax(logits[sc.label_ids[: p.n_servers + 1]], -1)
        assert torch.allclose(ref, lp[r], atol=1e-4)


def test_encoder_scorer_any_number_of_servers(tiny, p):
    from mecoffload.llm.encoder import EncoderScorer, build_encoder, embedding_std

    enc = build_encoder(tiny.hidden_size, embedding_std(tiny.model), 16)
    for E in (3, 6, 9):
        pE = Params.from_scenario(load_scenario("comllm").with_overrides({"edge.count": E}))
        o = collect_states(pE, 4, 2)
        lp = EncoderScorer(tiny.model, tiny.tokenizer, pE, enc).log_probs(o)
        assert lp.shape == (4, E + 1)
        assert torch.allclose(lp.exp().sum(1), torch.ones(4), atol=1e-5)


def test_datasets_roundtrip_and_metrics(tmp_path, obs, p):
    path = save_jsonl(obs, p, tmp_path / "s.jsonl")
    back = load_jsonl(path)
    assert np.allclose(back.rate, obs.rate) and np.allclose(back.hist, obs.hist)
    best = np.argmin(oracle_costs(obs, p), 1)
    m = static_metrics(best, obs, p)
    assert m["PR_pct"] == pytest.approx(100.0) and m["oracle_match_pct"] == 100.0
    import json

    rec = json.loads(path.read_text().splitlines()[0])
    assert rec["oracle"] == best[0] and len(rec["J_s"]) == p.n_servers + 1


def test_dataset_sizes_and_seeds_differ(p):
    from mecoffload.llm.datasets import make_sets

    sets = make_sets(load_scenario("comllm"), 0, {"sft": 10, "grpo": 20, "test": 10})
    assert {k: len(v) for k, v in sets.items()} == {"sft": 10, "grpo": 20, "test": 10}
    assert not np.allclose(sets["sft"].bits, sets["test"].bits)


def test_grpo_math():
    from mecoffload.learn.grpo_core import group_advantages, grpo_loss, sample_groups

    logp = torch.log_softmax(torch.tensor([[0.0, 1.0, 2.0], [5.0, 0.0, 0.0]]), -1)
    a = sample_groups(logp, 8, np.random.default_rng(0))
    assert a.shape == (2, 8) and a.min() >= 0 and a.max() <= 2
    r = torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    adv = group_advantages(r)
    assert torch.allclose(adv[1], torch.zeros(3)) and adv[0, 2] > 0
    theta = logp.clone().requires_grad_(True)
    loss, kl = grpo_loss(theta, logp, logp, torch.tensor([[2, 0, 1], [0, 1, 2]]), adv, 0.2, 0.005)
    assert abs(float(kl)) < 1e-6
    loss.backward()
    assert theta.grad is not None


@pytest.mark.parametrize("mode", ["text", "encoder"])
def test_sft_then_grpo_checkpoints_and_policy(tmp_path, mode, p):
    from mecoffload.llm import comllm, grpo, sft
    from mecoffload.llm.sft import LLMConfig
    from mecoffload.policies.base import make_policy

    sc = load_scenario("comllm")
    cfg = LLMConfig(mode=mode, sft_states=16, grpo_states=16, test_states=8, batch=4)
    s = sft.train(sc, tmp_path / "sft", 3, 0, backbone="tiny", config=cfg)
    assert s["sft_steps"] == 3 and (tmp_path / "sft" / "model.safetensors").exists()
    g = grpo.train(sc, tmp_path / "grpo", 2, 0, init=str(tmp_path / "sft"))
    assert g["grpo_steps"] == 2 and g["reward"] == "j"
    c = comllm.train(sc, tmp_path / "comllm", 2, 0, backbone="tiny",
                     config=LLMConfig(mode=mode, sft_states=16, grpo_states=16, test_states=8, batch=4, sft_steps=2))
    assert c["reward"] == "lacs" and "sft_steps" in c
    pol = make_policy(f"comllm:{tmp_path / 'comllm'}", p)
    o = collect_states(p, 5, 9)
    a = pol.act(o, np.random.default_rng(0))
    assert a.shape == (5,) and a.min() >= 0 and a.max() <= p.n_servers
    # the checkpoint runs unchanged on another topology
    p9 = Params.from_scenario(sc.with_overrides({"edge.count": 9}))
    pol9 = make_policy(f"llm-grpo:{tmp_path / 'grpo'}", p9)
    assert pol9.act(collect_states(p9, 3, 1), None).max() <= 9


def test_grpo_moves_the_policy_towards_higher_reward(p):
    """A few GRPO updates on the tiny encoder model raise the exact expected reward."""
    from mecoffload.llm.grpo import grpo_stage
    from mecoffload.llm.sft import LLMConfig, build_policy_model

    torch.manual_seed(0)
    cfg = LLMConfig(mode="encoder", batch=16, grpo_steps=25, lr_grpo=1e-3, lr_grpo_encoder=3e-3)
    tr = build_policy_model("tiny", cfg, p)
    o = collect_states(p, 16, 3)
    curve: dict = {}
    grpo_stage(tr, o, p, cfg, "j", 0, None, curve)
    r = curve["grpo_reward"]
    assert np.mean(r[-5:]) > np.mean(r[:5])


def test_policy_guards(p):
    from mecoffload.policies.base import PolicyError, make_policy

    for name in ("llm-zeroshot", "llm-sft", "llm-grpo", "comllm"):
        with pytest.raises(PolicyError, match=f"{name}:"):
            make_policy(name, p)
    with pytest.raises(PolicyError, match="no comllm checkpoint"):
        make_policy("comllm:/nonexistent/folder", p)
    with pytest.raises(PolicyError, match="unknown backbone"):
        make_policy("llm-zeroshot:/nonexistent/folder", p)


def test_zeroshot_tiny_in_closed_loop_evaluation():
    from mecoffload.eval.evaluate import evaluate

    sc = load_scenario("comllm").with_overrides({"sim.horizon_slots": 3})
    runs = evaluate(sc, ["llm-zeroshot:tiny", "oracle"], episodes=2, seed=0)
    m = runs["llm-zeroshot:tiny"].metrics
    assert 0 < m["PR_pct"] <= 100.0 + 1e-9


def test_labels_cover_perturbations():
    assert set(PERTURBATIONS) == {"standard", "shuffle", "noisy", "units"}


def test_cost_prompt_is_fixed_width_ms_and_orders_like_the_oracle(obs, p):
    """``cost`` style: one ``B 0264`` line (ms, 4 digits) per option, equal to the estimate; units variation in s."""
    import re

    from mecoffload.sim.cost import estimated_costs

    for i in range(len(obs)):
        lines = state_text(obs, i, p, PromptConfig(style="cost")).splitlines()[1:]
        assert [ln[0] for ln in lines] == list(LABELS[: p.n_servers + 1])
        ms = np.array([int(re.fullmatch(r"[A-Z] (\d{4})", ln).group(1)) for ln in lines])
        c = estimated_costs(obs.bits[i:i + 1], obs.rate[i:i + 1], obs.local_wait_s[i:i + 1], obs.f_edge[i:i + 1],
                            obs.n_active[i:i + 1], obs.backlog_bits[i:i + 1], p)[0]
        assert np.all(np.abs(ms - np.minimum(9999, c * 1e3)) <= 0.5)
        units = state_text(obs, i, p, PromptConfig(style="cost", perturbation="units")).splitlines()[1:]
        s = np.array([float(re.fullmatch(r"[A-Z] (\d+\.\d{3})", ln).group(1)) for ln in units])
        assert np.allclose(s, c, atol=5e-4)
        swapped = state_text(obs, i, p, PromptConfig(style="costlabel")).splitlines()[1:]
        assert swapped == [f"{ln[2:]} {ln[0]}" for ln in lines]  # "0264 B": estimate first, then the label
        doubled = state_text(obs, i, p, PromptConfig(style="costlabel"), scale=2.0).splitlines()[1:]
        assert np.all(np.abs(np.array([int(ln.split()[0]) for ln in doubled]) - np.minimum(9999, 2e3 * c)) <= 0.5)
    with pytest.raises(ValueError, match="hints"):
        state_text(obs, 0, p, PromptConfig(style="cost", hints=False))


def test_prune_keeps_first_and_last_layers_and_cache_indices(tiny, obs, p):
    """``prune_layers(keep, keep_last)``: the chosen layers, renumbered for the KV cache; scoring still exact."""
    from transformers import LlamaForCausalLM

    from mecoffload.llm.model import prune_layers
    from mecoffload.llm.scoring import TextScorer

    cfg = tiny.model.config.__class__(**{**tiny.model.config.to_dict(), "num_hidden_layers": 5})
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).eval()
    layers = list(model.model.layers)
    prune_layers(model, 2, keep_last=2)
    assert list(model.model.layers) == [layers[0], layers[1], layers[3], layers[4]]
    assert [ly.self_attn.layer_idx for ly in model.model.layers] == [0, 1, 2, 3]
    assert model.config.num_hidden_layers == 4
    sc = TextScorer(model, tiny.tokenizer, p, PromptConfig(style="cost"))
    lp = sc.log_probs(obs.take(np.arange(2)), seed=0)
    ids = sc.encode(obs.take(np.arange(2)), seed=0)
    for r in range(2):
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([sc.prefix_ids[0].tolist() + ids[r]])).logits[0, -1]
        assert torch.allclose(torch.log_softmax(logits[sc.label_ids[: p.n_servers + 1]], -1), lp[r], atol=1e-4)


def test_text_sft_with_mlp_lora_and_linear_schedule_roundtrips(tmp_path, p):
    from safetensors.torch import load_file

    from mecoffload.llm import sft
    from mecoffload.llm.sft import LLMConfig
    from mecoffload.policies.base import make_policy

    sc = load_scenario("comllm")
    cfg = LLMConfig(mode="text", style="costlabel", augment=0.5, layers=1, keep_last=1, lora_mlp=True, lora_r=4,
                    lora_alpha=8, sft_schedule="linear", sft_states=16, test_states=8, batch=4)
    sft.train(sc, tmp_path / "sft", 3, 0, backbone="tiny", config=cfg)
    keys = load_file(str(tmp_path / "sft" / "model.safetensors")).keys()
    assert any("gate_proj" in k for k in keys) and any("q_proj" in k for k in keys)
    pol = make_policy(f"llm-sft:{tmp_path / 'sft'}", p)
    assert pol.act(collect_states(p, 4, 1), None).max() <= p.n_servers
    with pytest.raises(ValueError, match="sft_schedule"):
        sft.train(sc, tmp_path / "bad", 1, 0, backbone="tiny", config=LLMConfig(sft_schedule="cosine", sft_states=8))


def test_augmented_prompts_relabel_servers_and_score_their_letters(tiny, obs, p):
    """SFT augmentation: random distinct server letters (A stays local) and a random perturbation per row;
    the label gathered for action a is the letter printed on a's line; prob 0 gives the plain prompts."""
    import re

    from mecoffload.llm.scoring import TextScorer

    sc = TextScorer(tiny.model, tiny.tokenizer, p, PromptConfig(style="cost"))
    ids, lab = sc.encode_augmented(obs, np.random.default_rng(0), 1.0)
    assert lab.shape == (len(obs), p.n_servers + 1) and np.all(lab[:, 0] == 0)
    assert all(len(set(r)) == len(r) for r in lab.tolist()) and lab.max() <= 25
    assert (lab[:, 1:] != np.arange(1, p.n_servers + 1)).any()
    for r in range(len(obs)):
        text = tiny.tokenizer.decode(ids[r])
        for a in range(p.n_servers + 1):  # its letter is followed by its estimate, once (newlines are lost)
            assert len(re.findall(rf"(?:^|\s){LABELS[lab[r, a]]} \d", text)) == 1
    logits = torch.randn(len(obs), len(tiny.tokenizer))
    lp = sc.action_log_probs(logits, p.n_servers, lab)
    for r in range(3):
        ref = torch.log_softmax(logits[r, sc.label_ids[torch.as_tensor(lab[r])]], -1)
        assert torch.allclose(lp[r], ref)
    plain, lab0 = sc.encode_augmented(obs, np.random.default_rng(0), 0.0)
    assert plain == sc.encode(obs, seed=0) and np.all(lab0 == np.arange(p.n_servers + 1))
    with pytest.raises(ValueError, match="n_servers"):
        sc.encode_augmented(obs, np.random.default_rng(0), 1.0, pool=4)


def test_grpo_realized_reward_runs_on_policy_rollouts(p):
    """``reward="realized"``: states from on-policy episodes, rewards = −realized team cost (slots)."""
    from mecoffload.llm.grpo import grpo_stage
    from mecoffload.llm.sft import LLMConfig, build_policy_model

    torch.manual_seed(0)
    cfg = LLMConfig(mode="encoder", batch=4, grpo_steps=3)
    tr = build_policy_model("tiny", cfg, p)
    curve: dict = {}
    out = grpo_stage(tr, collect_states(p, 4, 3), p, cfg, "realized", 0, None, curve)
    r = np.array(curve["grpo_reward"])
    assert out["grpo_steps"] == 3 and len(r) == 3
    assert np.all(np.isfinite(r)) and np.all(r < 0)  # every task costs at least its latency


def test_prompt_queue_line_is_optional(obs, p):
    from dataclasses import replace as dc_replace

    for style in ("standard", "compact", "cost"):
        cfg = PromptConfig(style=style)
        plain, queued = state_text(obs, 0, p, cfg), state_text(obs, 0, p, dc_replace(cfg, queue=True))
        assert "Queue" not in plain and "Q w=" not in plain
        lines = queued.splitlines()
        assert lines[:1] + lines[2:] == plain.splitlines()  # one line more, second, nothing else changed
        assert lines[1].startswith("Q w=" if style != "standard" else "Queue: uplink wait")

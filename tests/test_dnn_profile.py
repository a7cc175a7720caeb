"""The shipped DNN layer profiles are what torchvision's definitions give: recomputed here (in a
subprocess, so torchvision never enters the test process) and compared field by field; the chain of
split stages reproduces each model's forward on real tensors; the totals match the issue's
cross-check figures and torchvision's own metadata. Needs `make setup-dnn` (a dependency of `make test`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mecoffload.dnn.profiles import NETWORKS, PROFILE_DIR, load_profile

SRC = Path(__file__).resolve().parent.parent / "src"
RECOMPUTE = ("alexnet", "resnet50", "vit_b_16")
"""one chain, one residual, one transformer network: recomputed from torchvision in every run"""
CHAIN = ("alexnet", "resnet18", "mobilenet_v2", "vit_b_16")

_SCRIPT = """
import json, sys, torch
from mecoffload.dnn.profiler import compute_profile
from mecoffload.dnn.torchnets import build
out = {"profiles": {n: compute_profile(n) for n in sys.argv[1].split(",")}, "chain": {}}
torch.manual_seed(0)
with torch.no_grad():
    for n in sys.argv[2].split(","):
        model, stages = build(n, "cpu")
        x = torch.randn(1, 3, 224, 224)
        y = x
        for _, _, fn, _ in stages:
            y = fn(y)
        ref = model(x)
        out["chain"][n] = {"max_abs_diff": float((y - ref).abs().max()), "scale": float(ref.abs().max()),
                           "shape": list(y.shape), "params_owned": sum(p.numel() for s in stages for p in s[3]),
                           "params_model": sum(p.numel() for p in model.parameters())}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def recomputed():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-c", _SCRIPT, ",".join(RECOMPUTE), ",".join(CHAIN)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", RECOMPUTE)
def test_shipped_profile_equals_the_recomputed_one(recomputed, name):
    shipped = json.loads((PROFILE_DIR / f"{name}.json").read_text())
    fresh = recomputed["profiles"][name]
    assert fresh["layers"] == shipped["layers"]
    assert {k: v for k, v in fresh.items() if k != "layers"} == {k: v for k, v in shipped.items() if k != "layers"}


@pytest.mark.parametrize("name", CHAIN)
def test_stages_reproduce_the_forward_and_own_every_parameter(recomputed, name):
    c = recomputed["chain"][name]
    assert c["shape"] == [1, 1000]
    assert c["max_abs_diff"] <= 1e-5 * max(1.0, c["scale"]), c
    assert c["params_owned"] == c["params_model"]


@pytest.mark.parametrize("name, gmac", [("vgg16", 15.5), ("resnet50", 4.1), ("alexnet", 0.71)])
def test_totals_match_the_published_cross_checks(name, gmac):
    p = load_profile(name)
    assert p.total_macs / 1e9 == pytest.approx(gmac, rel=0.01)


@pytest.mark.parametrize("name", NETWORKS)
def test_profiles_are_consistent_with_torchvision_metadata(name):
    p = load_profile(name)
    doc = p.doc
    assert p.total_macs / 1e9 == pytest.approx(doc["torchvision_meta"]["gops"], abs=0.001)
    assert int(p.params.sum()) == doc["torchvision_meta"]["num_params"] == doc["total_params"]
    cum = [lay["cum_macs"] for lay in doc["layers"]]
    assert cum == sorted(cum) and cum[-1] == doc["total_macs"]
    for lay in doc["layers"]:
        n = 1
        for d in lay["out_shape"]:
            n *= d
        assert lay["act_bytes_fp32"] == 4 * n and lay["act_bytes_int8"] == n
    assert doc["layers"][-1]["out_shape"] == [1, 1000]
    assert 50 < doc["variants"]["fp32"]["top1"] < 90 and "torchvision" in doc["variants"]["fp32"]["source"]
    for v in doc["variants"].values():
        assert v["source"] and 50 < v["top1"] < 90


def test_layer_kinds_follow_the_architecture():
    vit, vgg = load_profile("vit_b_16"), load_profile("vgg16")
    assert vit.macs["attention"].sum() > 0 and vit.macs["dense"].sum() > 10 * vit.macs["conv"].sum()
    assert vgg.macs["attention"].sum() == 0 and vgg.macs["conv"].sum() > 50 * vgg.macs["dense"].sum()
    # attention of one ViT-B/16 block: QK^T and AV, 2 x 197^2 x 768 MACs
    assert vit.macs["attention"][1] == 2 * 197 * 197 * 768

"""Issue 13, the last checks: a policy's needs against the scenario, tier policy arguments,
dl-tier checkpoints validated through ``core.checkpoint``, special files in EdgeCloudSim folders,
learning rates / layer counts / split sizes, and training aborted on a non-finite loss."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mecoffload.core.errors import CheckpointError, PolicyError
from mecoffload.tiers.config import load_tier_scenario
from mecoffload.tiers.policies import make_tier_policy, tier_policies

TIER_NO_ARG = ["random", "utilization-based", "sonmez", "almutairi", "least-utilized", "min-service"]


@pytest.fixture(scope="module")
def tier_sc():
    return load_tier_scenario("iot3tier")


@pytest.mark.parametrize("name", TIER_NO_ARG)
def test_tier_policy_without_argument_refuses_one(name, tier_sc):
    assert name in tier_policies()
    with pytest.raises(PolicyError, match=f"policy '{name}' takes no argument"):
        make_tier_policy(f"{name}:xyz", tier_sc)
    assert make_tier_policy(name, tier_sc).name == name
    assert make_tier_policy(f"{name}:", tier_sc).name == f"{name}:"  # an empty argument is no argument


def test_flores_takes_only_util(tier_sc):
    assert make_tier_policy("flores:util", tier_sc).use_util
    assert not make_tier_policy("flores", tier_sc).use_util
    with pytest.raises(PolicyError, match="must be util"):
        make_tier_policy("flores:cpu", tier_sc)


def test_mec_local_is_refused_on_tiers(tier_sc):
    # the three-tier engines have no local execution: 'local' would silently be datacenter 0
    with pytest.raises(PolicyError, match="forbids local execution"):
        make_tier_policy("mec:local", tier_sc)
    with pytest.raises(PolicyError, match="takes no argument"):
        make_tier_policy("mec:random:xyz", tier_sc)


@pytest.mark.parametrize("arg", ["desc,desc", "/a,/b", "desc,/a,desc", "/a,desc,/b"])
def test_dl_tier_argument_is_folder_and_or_desc(arg, tier_sc):
    from mecoffload.tiers.dlnet import DlTier

    with pytest.raises(PolicyError, match="at most one checkpoint folder"):
        DlTier(tier_sc, arg, models=object())


def _dl_models():
    from mecoffload.tiers.dlnet import TIER_SIZES, VM_SIZES, DlModels

    rng = np.random.default_rng(0)

    def net(sizes):
        return [(rng.standard_normal((a, b)).astype(np.float32), rng.standard_normal(b).astype(np.float32))
                for a, b in zip(sizes[:-1], sizes[1:])]

    return DlModels(net(TIER_SIZES), net(VM_SIZES), {"seed": 0})


def test_dl_checkpoint_records_sizes_and_old_ones_still_load(tmp_path):
    pytest.importorskip("torch")
    from mecoffload.tiers.dlnet import load_dl_checkpoint, save_dl_checkpoint

    m = _dl_models()
    save_dl_checkpoint(m, tmp_path / "ck")
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert cfg["tier_sizes"] == [10, 64, 32, 16, 3] and cfg["vm_sizes"] == [13, 32, 16, 1]
    x = np.random.default_rng(1).random((4, 10)).astype(np.float32)
    np.testing.assert_array_equal(load_dl_checkpoint(tmp_path / "ck").tier_probs(x), m.tier_probs(x))
    # a checkpoint written before the sizes were recorded has the built-in widths
    del cfg["tier_sizes"], cfg["vm_sizes"]
    (tmp_path / "ck" / "config.json").write_text(json.dumps(cfg))
    np.testing.assert_array_equal(load_dl_checkpoint(tmp_path / "ck").tier_probs(x), m.tier_probs(x))
    cfg["tier_layers"] = "4"
    (tmp_path / "ck" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="tier_layers"):
        load_dl_checkpoint(tmp_path / "ck")


def _finishes(fn, *args, timeout_s: float = 20.0):
    """Run ``fn(*args)`` in a daemon thread; return the exception it raised (or None). A call that
    blocks (open() of a FIFO, read of /dev/zero) fails the test instead of hanging it."""
    import threading

    box: dict = {}

    def run():
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            box["exc"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout_s)
    assert not t.is_alive(), f"{fn.__name__}{args} blocked"
    return box.get("exc")


@pytest.mark.parametrize("kind", ["fifo", "device", "socket", "folder"])
def test_every_file_reader_refuses_special_files_before_opening(kind, tmp_path, monkeypatch):
    import os
    import socket

    from mecoffload.core.errors import ScenarioError
    from mecoffload.core.scenario import read_toml
    from mecoffload.ecs.readers import EcsFormatError, read_properties, read_xml

    path = tmp_path / "x"
    if kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "socket":
        monkeypatch.chdir(tmp_path)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind("x")
    else:
        path.mkdir()
    for reader, error in ((read_properties, EcsFormatError), (read_xml, EcsFormatError), (read_toml, ScenarioError)):
        exc = _finishes(reader, path)
        assert isinstance(exc, error), (reader.__name__, exc)
        assert ("is a folder" if kind == "folder" else "not a regular file") in str(exc)
        assert "\n" not in str(exc)

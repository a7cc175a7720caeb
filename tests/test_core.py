"""core: the scenario base (any model, any preset folder), atomic checkpoint IO, clip, the registry type."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import Field

from mecoffload.core.checkpoint import atomic_write, atomic_write_text
from mecoffload.core.errors import ScenarioError, UserError, clip
from mecoffload.core.scenario import (
    ScenarioModel,
    Section,
    load_model,
    parse_overrides,
    preset_names,
    read_toml,
    set_path,
    validate_model,
)


class Part(Section):
    size_mb: float = Field(1.0, gt=0, le=10, description="a size, MB")


class Thing(ScenarioModel):
    LABEL: ClassVar[str] = "thing"
    name: str = "custom"
    part: Part = Part()
    items: list[Part] = [Part(), Part()]


def _line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg
    return msg


def test_load_model_from_a_path_with_overrides(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text("[part]\nsize_mb = 2.0\n")
    t = load_model(Thing, f, ["part.size_mb=3", "items.1.size_mb=4"])
    assert t.name == "mine" and t.part.size_mb == 3.0 and t.items[1].size_mb == 4.0
    assert t.with_overrides(None) is t
    with pytest.raises(ScenarioError) as exc:
        t.with_overrides({"part.size_mb": 11})
    msg = _line(exc)
    assert msg.startswith("invalid thing field 'part.size_mb' = 11") and "(allowed: 0 < part.size_mb <= 10)" in msg
    with pytest.raises(ScenarioError, match=r"index 0\.\.1"):
        t.with_overrides({"items.5.size_mb": 1})


def test_presets_of_a_package_folder():
    names = preset_names("mecoffload", "scenarios")
    assert "comllm" in names
    with pytest.raises(ScenarioError) as exc:
        load_model(Thing, "nope", presets=("mecoffload", "scenarios"))
    assert "unknown thing 'nope'" in _line(exc) and "comllm" in str(exc.value)


def test_validate_model_where_and_clipped_values():
    with pytest.raises(ScenarioError) as exc:
        validate_model(Thing, {"part": {"size_mb": "y" * 10_000}}, label="", where="f.toml")
    msg = _line(exc)
    assert msg.startswith("f.toml: invalid field 'part.size_mb' = ") and len(msg) < 400
    with pytest.raises(ScenarioError, match="invalid thing field 'bogus' = 1: Extra inputs"):
        validate_model(Thing, {"bogus": 1})


def test_read_toml_file_errors(tmp_path):
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf[part]\nsize_mb = 2.0\n")
    assert read_toml(tmp_path / "bom.toml") == {"part": {"size_mb": 2.0}}
    (tmp_path / "big.toml").write_bytes(b"#" * (17 * 2**20))
    for path, needle in [(tmp_path / "missing.toml", "no such file"), (tmp_path, "is a folder"),
                         (tmp_path / "big.toml", "too large"), (tmp_path / "bom.toml" / "x.toml", "no such file")]:
        with pytest.raises(ScenarioError) as exc:
            read_toml(path, "thing")
        assert _line(exc).startswith("thing file '") and needle in str(exc.value)


def test_overrides_parsing():
    assert parse_overrides(["a.b=[1, 2]", "c=x"]) == {"a.b": [1, 2], "c": "x"}
    assert parse_overrides(None) == {} and parse_overrides({"a": 1}) == {"a": 1}
    data = {"a": {"b": 1}}
    set_path(data, "a.b", 2)
    assert data == {"a": {"b": 2}}
    with pytest.raises(ScenarioError, match="allowed here: b"):
        set_path(data, "a.c", 2)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "config.json"
    atomic_write_text(target, "old")

    def fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_clip():
    assert clip("abc") == "abc"
    assert len(clip("x" * 1000)) == 80 and clip("x" * 1000).endswith("…")
    assert clip("a\nb\x00") == "a\\nb\\x00"
    assert len(clip(list(range(10**6)))) == 80


def test_errors_are_user_errors():
    from mecoffload.core.errors import CheckpointError, PolicyError
    from mecoffload.llm import LLMError
    from mecoffload.scenario import ScenarioError as OldScenarioError

    assert OldScenarioError is ScenarioError
    for cls in (ScenarioError, PolicyError, CheckpointError, LLMError):
        assert issubclass(cls, UserError) and issubclass(cls, ValueError)


def test_registries_are_one_type():
    from mecoffload.core.registry import Registry
    from mecoffload.experiments import EXPERIMENTS
    from mecoffload.learn import TRAINERS
    from mecoffload.policies.base import POLICIES

    for reg in (EXPERIMENTS, TRAINERS, POLICIES):
        assert isinstance(reg, Registry)
    assert {"llm-zeroshot", "llm-sft", "llm-grpo", "comllm", "oracle", "setnet", "dqn"} <= set(POLICIES.names())
    assert set(TRAINERS.names()) == {"dqn", "setnet", "setnet-dnn", "llm-sft", "llm-grpo", "comllm"}
    assert {"comllm", "iot-devices"} <= set(EXPERIMENTS.names())


# ---------------------------------------------------------------------- strict sections, checkpoint validation (issue 13)


class Pair(Section):
    span: tuple[float, float] = (1.0, 2.0)
    n: int = Field(1, ge=1, le=5)


def test_sections_are_strict_and_finite():
    assert Pair.model_validate({"span": [1, 3]}).span == (1.0, 3.0)  # a list is a tuple, an int a float
    for bad in ({"n": True}, {"n": 2.0}, {"n": "2"}, {"span": [1, "2"]}, {"span": [float("nan"), 1]}):
        with pytest.raises(ScenarioError):
            validate_model(Pair, bad)


def test_bounds_of_list_items_are_quoted():
    with pytest.raises(ScenarioError) as exc:
        validate_model(Thing, {"items": [{"size_mb": 1}, {"size_mb": 50}]})
    assert "(allowed: 0 < items.1.size_mb <= 10)" in _line(exc)


def test_empty_file_is_an_error(tmp_path):
    (tmp_path / "e.toml").write_text("# nothing here\n")
    with pytest.raises(ScenarioError, match="sets no thing field"):
        load_model(Thing, tmp_path / "e.toml")


def _ckpt(tmp_path, tensors: dict, config):
    import json

    from safetensors.torch import save_file

    folder = tmp_path / "ck"
    folder.mkdir(exist_ok=True)
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_load_checkpoint_validates_config_shapes_dtype_and_finiteness(tmp_path):
    torch = pytest.importorskip("torch")
    from mecoffload.core.checkpoint import CheckpointConfig, load_checkpoint
    from mecoffload.core.errors import CheckpointError

    class Cfg(CheckpointConfig):
        width: int = Field(ge=1, le=8)

    def shapes(c):
        return {"w": (c.width, 2)}

    ok = _ckpt(tmp_path, {"w": torch.ones(3, 2)}, {"kind": "k", "width": 3, "note": "kept"})
    tensors, cfg = load_checkpoint(ok, "k", Cfg, shapes)
    assert cfg["note"] == "kept" and torch.equal(tensors["w"], torch.ones(3, 2))
    cases = [
        ({"w": torch.ones(3, 2)}, {"kind": "k", "width": True}, "'width' = true"),
        ({"w": torch.ones(3, 2)}, {"kind": "k", "width": 99}, "1 <= width <= 8"),
        ({"w": torch.ones(3, 2)}, {"kind": "k"}, "'width': Field required"),
        ({"w": torch.ones(4, 2)}, {"kind": "k", "width": 3}, "has shape (4, 2), expected (3, 2)"),
        ({"w": torch.ones(3, 2), "v": torch.ones(1)}, {"kind": "k", "width": 3}, "unexpected v"),
        ({"v": torch.ones(3, 2)}, {"kind": "k", "width": 3}, "missing w"),
        ({"w": torch.ones(3, 2, dtype=torch.float64)}, {"kind": "k", "width": 3}, "is float64, expected float32"),
        ({"w": torch.tensor([[1.0, float("nan")]] * 3)}, {"kind": "k", "width": 3}, "NaN or infinite"),
        ({"w": torch.tensor([[1.0, float("inf")]] * 3)}, {"kind": "k", "width": 3}, "NaN or infinite"),
    ]
    for tensors, config, needle in cases:
        folder = _ckpt(tmp_path, tensors, config)
        with pytest.raises(CheckpointError) as exc:
            load_checkpoint(folder, "k", Cfg, shapes)
        msg = _line(exc)
        assert needle in msg and str(folder) in msg, msg


def test_check_memory_refuses_with_the_estimate(tmp_path, monkeypatch):
    from mecoffload.core import resources

    info = tmp_path / "meminfo"
    info.write_text("MemTotal:       1000000 kB\nMemAvailable:     524288 kB\n")
    monkeypatch.setattr(resources, "MEMINFO", info)
    monkeypatch.setattr(resources, "CGROUP", tmp_path / "no-cgroup")
    assert resources.free_memory_bytes() == 512 * 2**20
    resources.check_memory(100 * 2**20, "small run")  # fits
    with pytest.raises(UserError) as exc:
        resources.check_memory(3 * 2**30, "evaluate -n 9", "use fewer episodes")
    assert _line(exc) == "evaluate -n 9 needs about 3.0 GiB of memory but only 512.0 MiB is free; use fewer episodes"
    cg = tmp_path / "cg"
    cg.mkdir()
    (cg / "memory.max").write_text(str(300 * 2**20))
    (cg / "memory.current").write_text(str(100 * 2**20))
    monkeypatch.setattr(resources, "CGROUP", cg)
    assert resources.free_memory_bytes() == 200 * 2**20  # the cgroup limit is lower
    monkeypatch.setattr(resources, "MEMINFO", tmp_path / "none")
    monkeypatch.setattr(resources, "CGROUP", tmp_path / "none")
    assert resources.free_memory_bytes() is None
    resources.check_memory(10**30, "unknown machine")  # cannot tell: not refused
    assert resources.fmt_bytes(512) == "512 B" and resources.fmt_bytes(3 * 2**40) == "3.0 TiB"


def test_quiet_third_party_hides_their_warnings_only():
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, warnings, os\n"
        "warnings.simplefilter('default')\n"
        "from mecoffload.core.quiet import quiet_third_party\n"
        "quiet_third_party(sys.argv[1] == 'verbose')\n"
        "for mod in ('transformers.modeling_utils', 'matplotlib', 'torch.nn.modules.module', 'mecoffload.eval'):\n"
        "    exec('import warnings; warnings.warn(\"from ' + mod + '\", FutureWarning)', {'__name__': mod})\n"
        "print(os.environ.get('TRANSFORMERS_VERBOSITY'))\n"
    )
    src = str(Path(__file__).resolve().parent.parent / "src")
    env = {k: v for k, v in os.environ.items() if k != "TRANSFORMERS_VERBOSITY"} | {"PYTHONPATH": src}
    quiet = subprocess.run([sys.executable, "-c", code, "quiet"], capture_output=True, text=True, env=env, timeout=120)
    assert "from mecoffload.eval" in quiet.stderr and "transformers" not in quiet.stderr, quiet.stderr
    assert "matplotlib" not in quiet.stderr and "torch" not in quiet.stderr and quiet.stdout.strip() == "error"
    loud = subprocess.run([sys.executable, "-c", code, "verbose"], capture_output=True, text=True, env=env, timeout=120)
    assert "from transformers.modeling_utils" in loud.stderr and "from matplotlib" in loud.stderr
    assert loud.stdout.strip() == "None"

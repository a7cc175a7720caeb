"""Bad input never crashes, hangs or lies (issue 13): a table of bad inputs over every subcommand and
every file type (scenario TOML, tier TOML, EdgeCloudSim TOML and folders, checkpoints). Each is one
``error:`` line on stderr, exit code 2, no traceback, and nothing written. The inputs of
``tests/test_cli_errors.py`` are not repeated here.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from mecoffload.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
CKPT = ROOT / "checkpoints"
TINY = ["-n", "1", "--set", "sim.horizon_slots=2", "--no-plots"]
TIER = ["--seeds", "1", "-d", "5", "--set", "sim.horizon_s=2", "--set", "sim.warmup_s=0"]

MEC_OK = "[edge]\ncount = 3\n"
TIER_OK = (ROOT / "src" / "mecoffload" / "tiers" / "presets" / "iot3tier.toml").read_text()

SCENARIO_FILES = {
    # name: bytes of a bad scenario file
    "garbage.toml": b"\x00\x01\xfe\xff" * 64,
    "bom-garbage.toml": b"\xef\xbb\xbf\xff\xfe",
    "bom-only.toml": b"\xef\xbb\xbf",
    "empty.toml": b"",
    "comments.toml": b"# a scenario\n# nothing else\n",
    "named.toml": b'name = "mine"\ndescription = "no section"\n',
    "unknown.toml": b"[nope]\nx = 1\n",
    "listsection.toml": b"[[edge]]\ncount = 3\n",
    "boolcount.toml": b"[edge]\ncount = true\n",
    "strcount.toml": b'[edge]\ncount = "3"\n',
    "floatcount.toml": b"[edge]\ncount = 3.0\n",
    "nan.toml": b"[users]\ncpu_ghz = nan\n",
    "inf.toml": b"[users]\ncpu_ghz = inf\n",
    "huge.toml": b"[sim]\nhorizon_slots = 9223372036854775807\n",
    "lohi.toml": b"[task]\nsize_mbit = [5.0, 1.0]\n",
    "date.toml": b"[sim]\nslot_s = 1979-05-27\n",
    "dup.toml": b"[edge]\ncount = 3\ncount = 4\n",
    "tier-empty-apps.toml": TIER_OK.replace("[[apps]]", "[[nothing]]", 1).encode(),
    "ecs-empty.toml": b"# import-ecs output without content\n",
}


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """Corrupted checkpoints of the dqn, setnet and dl-tier kinds (tiny networks), built once."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    from mecoffload.policies.dqn import DQNCheckpoint, dqn_tensor_shapes
    from mecoffload.policies.setnet import SetNetCheckpoint, setnet_tensor_shapes
    from mecoffload.tiers.dlnet import DlTierCheckpoint, dl_tensor_shapes

    root = tmp_path_factory.mktemp("ckpts")
    dqn_cfg = json.loads((CKPT / "dqn-comllm" / "config.json").read_text())
    dqn_cfg["hidden"] = [4]
    set_cfg = {"kind": "setnet", "hidden": 4}

    def tensors(kind: str, cfg: dict) -> dict:
        shapes = dqn_tensor_shapes(DQNCheckpoint.model_validate(cfg)) if kind == "dqn" else \
            setnet_tensor_shapes(SetNetCheckpoint.model_validate(cfg))
        return {k: torch.zeros(s) for k, s in shapes.items()}

    def make(name: str, config, weights=None) -> None:
        folder = root / name
        folder.mkdir()
        (folder / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
        if isinstance(weights, bytes):
            (folder / "model.safetensors").write_bytes(weights)
        elif weights is not None:
            save_file(weights, str(folder / "model.safetensors"))

    good_dqn, good_set = tensors("dqn", dqn_cfg), tensors("setnet", set_cfg)
    nan_dqn = dict(good_dqn, **{"adv.bias": torch.full((7,), float("nan"))})
    inf_set = dict(good_set, **{"chi.2.bias": torch.full((1,), float("inf"))})
    raw = (root / "raw.safetensors")
    save_file(good_dqn, str(raw))
    full = raw.read_bytes()
    make("dqn-nan", dqn_cfg, nan_dqn)
    make("dqn-trunc", dqn_cfg, full[: len(full) // 2])
    make("dqn-empty-weights", dqn_cfg, b"")
    make("dqn-shape", dict(dqn_cfg, hidden=[5]), good_dqn)
    make("dqn-missing", dqn_cfg, {k: v for k, v in good_dqn.items() if not k.startswith("value")})
    make("dqn-extra", dqn_cfg, dict(good_dqn, extra=torch.zeros(1)))
    make("dqn-f64", dqn_cfg, {k: v.double() for k, v in good_dqn.items()})
    make("dqn-hidden-bool", dict(dqn_cfg, hidden=[True]), good_dqn)
    make("dqn-hidden-huge", dict(dqn_cfg, hidden=[10**9]), good_dqn)
    make("dqn-actions", dict(dqn_cfg, n_actions=3), good_dqn)
    make("dqn-no-fields", {"kind": "dqn"}, good_dqn)
    make("dqn-str-servers", dict(dqn_cfg, n_servers="6"), good_dqn)
    make("dqn-e3", dict(dqn_cfg, n_servers=3), good_dqn)
    make("dqn-no-weights", dqn_cfg)
    make("dqn-empty-config", "", good_dqn)
    make("dqn-null-config", "null", good_dqn)
    make("dqn-nan-config", '{"kind": "dqn", "n_servers": NaN}', good_dqn)
    make("set-inf", set_cfg, inf_set)
    make("set-hidden-float", {"kind": "setnet", "hidden": 4.0}, good_set)
    make("set-hidden-bool", {"kind": "setnet", "hidden": True}, good_set)
    make("set-kind-list", {"kind": ["setnet"], "hidden": 4}, good_set)
    make("set-no-kind", {"hidden": 4}, good_set)
    make("set-foreign", set_cfg, b"PK\x03\x04 not safetensors at all" * 10)
    make("set-missing", set_cfg, {k: v for k, v in good_set.items() if k != "chi.0.weight"})
    (root / "set-latin1").mkdir()
    (root / "set-latin1" / "config.json").write_bytes(b'{"kind": "s\xe9tnet"}')
    save_file(good_set, str(root / "set-latin1" / "model.safetensors"))
    (root / "set-dir-weights").mkdir()
    (root / "set-dir-weights" / "config.json").write_text(json.dumps(set_cfg))
    (root / "set-dir-weights" / "model.safetensors").mkdir()
    (root / "set-dir-config").mkdir()
    (root / "set-dir-config" / "config.json").mkdir()
    save_file(good_set, str(root / "set-dir-config" / "model.safetensors"))
    (root / "a-file").write_text("not a folder")
    dl_cfg = {"kind": "dl-tier", "tier_layers": 4, "vm_layers": 3}
    good_dl = {k: torch.zeros(s) for k, s in dl_tensor_shapes(DlTierCheckpoint.model_validate(dl_cfg)).items()}
    make("dl-layers-str", dict(dl_cfg, tier_layers="4"), good_dl)
    make("dl-layers-bool", dict(dl_cfg, vm_layers=True), good_dl)
    make("dl-layers-huge", dict(dl_cfg, tier_layers=10**6), good_dl)
    make("dl-layers-list", dict(dl_cfg, tier_layers=[4]), good_dl)
    make("dl-layers-mismatch", dict(dl_cfg, tier_layers=3), good_dl)
    make("dl-sizes-input", dict(dl_cfg, tier_sizes=[9, 64, 32, 16, 3]), good_dl)
    make("dl-sizes-str", dict(dl_cfg, vm_sizes="13,32,16,1"), good_dl)
    make("dl-shape", dl_cfg, dict(good_dl, **{"tier.0.weight": torch.zeros(10, 63)}))
    make("dl-nan", dl_cfg, dict(good_dl, **{"tier.1.bias": torch.full((32,), float("nan"))}))
    make("dl-missing", dl_cfg, {k: v for k, v in good_dl.items() if k != "vm.2.weight"})
    make("dl-no-fields", {"kind": "dl-tier"}, good_dl)
    return root


@pytest.fixture
def files(tmp_path):
    """Bad files of every kind in tmp_path (scenario TOMLs, EdgeCloudSim folders, special files)."""
    for name, data in SCENARIO_FILES.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "ok.toml").write_text(MEC_OK)
    with open(tmp_path / "big.toml", "wb") as f:  # sparse: 17 MiB, no disk used
        f.truncate(17 * 2**20)
    (tmp_path / "dir.toml").mkdir()
    (tmp_path / "afile").write_text("x")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.toml")
    ecs = tmp_path / "ecs"
    ecs.mkdir()
    (ecs / "empty").mkdir()
    for name, change in {
        "badnumber": ("default_config.properties", "simulation_time=4", "simulation_time=four"),
        "nanprop": ("default_config.properties", "wlan_bandwidth=100", "wlan_bandwidth=NaN"),
        "warmup": ("default_config.properties", "warm_up_period=0.5", "warm_up_period=40"),
        "minmax": ("default_config.properties", "max_number_of_mobile_devices=80", "max_number_of_mobile_devices=5"),
        "xmlgarbage": ("applications.xml", None, "\x00\xff\xfe garbage"),
        "xmltrunc": ("edge_devices.xml", "</edge_devices>", ""),
        "usage": ("applications.xml", "<usage_percentage>50</usage_percentage>", "<usage_percentage>500</usage_percentage>"),
        "noapps": ("applications.xml", None, '<?xml version="1.0"?>\n<applications>\n</applications>\n'),
    }.items():
        folder = ecs / name
        shutil.copytree(FIX / "ecs_small", folder)
        target, old, new = change
        text = (folder / target).read_text()
        (folder / target).write_text(new if old is None else text.replace(old, new))
    shutil.copytree(FIX / "ecs_small", ecs / "noprops")
    (ecs / "noprops" / "default_config.properties").unlink()
    shutil.copytree(FIX / "ecs_small", ecs / "dirprops")
    (ecs / "dirprops" / "default_config.properties").unlink()
    (ecs / "dirprops" / "default_config.properties").mkdir()
    special_ecs_files(ecs)
    return tmp_path


def special_ecs_files(ecs: Path) -> None:
    """EdgeCloudSim folders where one file is a FIFO (open() would block forever), a device
    (reading never ends) or a socket."""
    for name, target in {"fifoprops": "default_config.properties", "fifoapps": "applications.xml",
                         "devedge": "edge_devices.xml", "sockprops": "default_config.properties"}.items():
        folder = ecs / name
        shutil.copytree(FIX / "ecs_small", folder)
        (folder / target).unlink()
        if name.startswith("fifo") and hasattr(os, "mkfifo"):
            os.mkfifo(folder / target)
        elif name == "devedge":
            (folder / target).symlink_to("/dev/zero")
        elif name == "sockprops" and hasattr(socket, "AF_UNIX"):
            cwd = os.getcwd()
            os.chdir(folder)  # a relative name: socket paths are limited to ~100 characters
            try:
                sock = socket.socket(socket.AF_UNIX)
                sock.bind(target)
                sock.close()  # the socket file stays
            finally:
                os.chdir(cwd)


T, E, C = "{t}", "{t}/ecs", "{c}"
LONG = "x" * 300

BAD = [
    # --- scenario TOML files, every command that reads one
    (["evaluate", "-s", f"{T}/bom-garbage.toml"], "not UTF-8"),
    (["evaluate", "-s", f"{T}/empty.toml"], "sets no scenario field"),
    (["evaluate", "-s", f"{T}/bom-only.toml"], "sets no scenario field"),
    (["evaluate", "-s", f"{T}/comments.toml"], "sets no scenario field"),
    (["evaluate", "-s", f"{T}/named.toml"], "sets no scenario field"),
    (["evaluate", "-s", f"{T}/unknown.toml"], "nope"),
    (["evaluate", "-s", f"{T}/listsection.toml"], "edge"),
    (["evaluate", "-s", f"{T}/boolcount.toml"], "edge.count"),
    (["evaluate", "-s", f"{T}/strcount.toml"], "edge.count"),
    (["evaluate", "-s", f"{T}/floatcount.toml"], "edge.count"),
    (["evaluate", "-s", f"{T}/nan.toml"], "finite number"),
    (["evaluate", "-s", f"{T}/inf.toml"], "finite number"),
    (["evaluate", "-s", f"{T}/huge.toml"], "sim.horizon_slots"),
    (["evaluate", "-s", f"{T}/lohi.toml"], "task.size_mbit"),
    (["evaluate", "-s", f"{T}/date.toml"], "sim.slot_s"),
    (["evaluate", "-s", f"{T}/dup.toml"], "not valid TOML"),
    (["evaluate", "-s", f"{T}/big.toml"], "too large"),
    (["evaluate", "-s", "/dev/zero"], "not a regular file"),
    (["evaluate", "-s", f"{T}/{LONG}.toml"], "scenario file"),
    (["evaluate", "-s", f"{T}/afile/sub.toml"], "no such file"),
    (["sweep", "--param", "E", "--values", "3", "-s", f"{T}/empty.toml"], "sets no scenario field"),
    (["sweep", "--param", "E", "--values", "3", "-s", f"{T}/fifo.toml"], "not a regular file"),
    (["scenarios", "--show", f"{T}/garbage.toml"], "not UTF-8"),
    (["scenarios", "--show", f"{T}/dir.toml"], "is a folder"),
    (["scenarios", "--show", f"{T}/empty.toml"], "sets no scenario field"),
    (["scenarios", "--show", "nope"], "unknown scenario 'nope'"),
    (["train", "dqn", "-s", f"{T}/garbage.toml", "--out", f"{T}/ck"], "not UTF-8"),
    (["train", "setnet", "-s", f"{T}/fifo.toml", "--out", f"{T}/ck"], "not a regular file"),
    (["train", "dqn", "-s", f"{T}/empty.toml", "--out", f"{T}/ck"], "sets no scenario field"),
    (["llm", "data", "-s", f"{T}/boolcount.toml", "--out", f"{T}/d"], "edge.count"),
    (["llm", "data", "-s", f"{T}/dir.toml", "--out", f"{T}/d"], "is a folder"),
    (["llm", "finetune", "llm-sft", "-s", f"{T}/garbage.toml", "-o", f"{T}/ck"], "not UTF-8"),
    (["llm", "bench", "-p", "random", "-s", f"{T}/empty.toml"], "sets no scenario field"),
    # --- tier scenario files
    (["tier-eval", "-s", f"{T}/empty.toml"], "sets no tier scenario field"),
    (["tier-eval", "-s", f"{T}/fifo.toml"], "not a regular file"),
    (["tier-eval", "-s", f"{T}/tier-empty-apps.toml"], "nothing"),
    (["tier-eval", "-s", f"{T}/big.toml"], "too large"),
    (["tier-train", "-s", f"{T}/garbage.toml", "--out", f"{T}/ck"], "not UTF-8"),
    (["tier-train", "-s", f"{T}/ok.toml", "--out", f"{T}/ck"], "tier scenario"),
    # --- scenario values (--set)
    (["evaluate", "--set", "edge.count=true"], "edge.count"),
    (["evaluate", "--set", "edge.count=3.0"], "edge.count"),
    (["evaluate", "--set", 'edge.count="3"'], "edge.count"),
    (["evaluate", "--set", "users.cpu_ghz=NaN"], "finite number"),
    (["evaluate", "--set", "users.cpu_ghz=Infinity"], "finite number"),
    (["evaluate", "--set", "channel.snr_ref_db=-Infinity"], "finite number"),
    (["evaluate", "--set", "users.cpu_ghz=1e400"], "finite number"),
    (["evaluate", "--set", "sim.horizon_slots=99999999999999999999999"], "1 <= sim.horizon_slots <= 1000000"),
    (["evaluate", "--set", "task.size_mbit=[1,true]"], "task.size_mbit"),
    (["evaluate", "--set", "task.size_mbit=[]"], "task.size_mbit"),
    (["evaluate", "--set", "edge.cpu_ghz=[NaN,40]"], "finite number"),
    (["evaluate", "--set", "sim.slot_s="], "sim.slot_s"),
    (["evaluate", "--set", "cost.allow_local=1"], "cost.allow_local"),
    (["evaluate", "--set", "name=" + "n" * 10_000], "at most 200 characters"),
    (["evaluate", "--set", "=3"], "unknown scenario field"),
    (["evaluate", "--set", "edge..count=3"], "unknown scenario field"),
    (["evaluate", "--set", "task.arrival=bernoulli", "--set", "task.rate=1.5"], "task.rate"),
    (["evaluate", "--set", "edge=3"], "edge"),
    (["sweep", "--param", "edge.count", "--values", "3,true"], "edge.count"),
    (["sweep", "--param", "task.rate", "--values", "0.3,NaN"], "task.rate"),
    (["sweep", "--param", "edge.count", "--values", "3,100"], "edge.count"),
    (["sweep", "--param", "nope.field", "--values", "3"], "nope"),
    (["train", "dqn", "--set", "edge.count=0", "--out", f"{T}/ck"], "edge.count"),
    (["train", "setnet", "--set", "task.size_mbit=[5,1]", "--out", f"{T}/ck"], "task.size_mbit"),
    (["llm", "data", "--set", "users.count=true", "--out", f"{T}/d"], "users.count"),
    (["llm", "finetune", "llm-sft", "--set", "edge.count=NaN", "-o", f"{T}/ck"], "edge.count"),
    (["tier-eval", "--set", "devices.count=true"], "devices.count"),
    (["tier-eval", "--set", "sim.warmup_s=500"], "warmup_s"),
    (["tier-eval", "--set", "devices.interval_s=[1,0.5]"], "devices.interval_s"),
    (["tier-eval", "--set", "apps.0.usage_pct=0"], "0 < apps.0.usage_pct <= 100"),
    (["tier-eval", "--set", "apps.0.active_s=1e300"], "apps.0.active_s"),
    (["tier-eval", "--set", "apps.99.usage_pct=5"], "apps.99"),
    (["tier-train", "--set", "mobility.mean_dwell_s=[1,NaN]", "--out", f"{T}/ck"], "mean_dwell_s"),
    (["tier-train", "--set", "network.wlan.bandwidth_mbps=[0,1]", "--out", f"{T}/ck"], "bandwidth_mbps"),
    # --- policies and their arguments
    (["evaluate", "-p", "random:xyz", *TINY], "takes no argument"),
    (["evaluate", "-p", "oracle:1", *TINY], "expected key=value[,...] with keys model"),
    (["evaluate", "-p", "lacs:k=0", *TINY], "1 <= k <= 64"),
    (["evaluate", "-p", "lacs:lambda=-1", *TINY], "lambda"),
    (["evaluate", "-p", "lacs:k=3,lambda=nan", *TINY], "lacs"),
    (["evaluate", "-p", "ga:pop=100000000", *TINY], "2 <= pop <= 10000"),
    (["evaluate", "-p", "ga:gens=99999", *TINY], "0 <= gens <= 10000"),
    (["evaluate", "-p", "ga:mut=2", *TINY], "mut"),
    (["evaluate", "-p", "ga:objective=speed", *TINY], "objective"),
    (["evaluate", "-p", "ga:pop=10000", "--set", "users.count=10000", "--set", "task.rate=20", *TINY], "of memory"),
    (["evaluate", "-p", "dqn", *TINY], "needs a checkpoint folder"),
    (["evaluate", "-p", f"dqn:{T}/missing", *TINY], "no dqn checkpoint"),
    (["evaluate", "-p", f"setnet:{T}/afile", *TINY], "no setnet checkpoint"),
    (["evaluate", "-p", "llm-zeroshot:nope", *TINY], "nope"),
    (["sweep", "--param", "E", "--values", "3", "-p", "nearest:2", "-n", "1"], "takes no argument"),
    (["evaluate", "-s", "loadbalance", "-p", "local", *TINY], "cannot run on this scenario"),
    (["evaluate", "--set", "cost.allow_local=false", "-p", "random,local", *TINY], "cost.allow_local = false"),
    (["sweep", "-s", "loadbalance", "--param", "E", "--values", "3", "-p", "local", "-n", "1"], "forbids local"),
    (["tier-eval", "-p", "mec:local", *TIER], "forbids local execution"),
    (["tier-eval", "-p", "mec:nope", *TIER], "nope"),
    (["tier-eval", "-p", "mec:random:xyz", *TIER], "takes no argument"),
    (["tier-eval", "-p", f"dl-tier:{T}/missing", *TIER], "no dl-tier checkpoint"),
    (["tier-eval", "-p", "random:xyz", *TIER], "policy 'random' takes no argument"),
    (["tier-eval", "-p", "min-service:1", *TIER], "policy 'min-service' takes no argument"),
    (["tier-eval", "-p", "sonmez:fast", *TIER], "takes no argument"),
    (["tier-eval", "-p", "flores:cpu", *TIER], "must be util (flores:util) or none"),
    (["tier-eval", "-p", "ecs:TWO_TIER/NOPE", *TIER], "unknown EdgeCloudSim orchestrator"),
    (["tier-eval", "-p", "ecs", *TIER], "ecs needs SCENARIO/POLICY"),
    (["tier-eval", "-p", "dl-tier:/a,/b", *TIER], "at most one checkpoint folder"),
    (["tier-eval", "-p", "mec:lacs:k=0", *TIER], "1 <= k <= 64"),
    (["run-ecs", str(FIX / "ecs_small"), "-p", "lacs:k=0", "--no-plots"], "1 <= k <= 64"),
    (["llm", "bench", "-p", "random:xyz"], "takes no argument"),
    (["llm", "bench", "-p", "nope"], "unknown policy 'nope'"),
    (["llm", "bench", "-p", f"comllm:{T}/missing"], "missing"),
    # --- checkpoints
    (["evaluate", "-p", f"dqn:{C}/dqn-nan", *TINY], "NaN or infinite"),
    (["evaluate", "-p", f"dqn:{C}/dqn-trunc", *TINY], "not a readable safetensors"),
    (["evaluate", "-p", f"dqn:{C}/dqn-empty-weights", *TINY], "not a readable safetensors"),
    (["evaluate", "-p", f"dqn:{C}/dqn-shape", *TINY], "has shape"),
    (["evaluate", "-p", f"dqn:{C}/dqn-missing", *TINY], "missing value.weight"),
    (["evaluate", "-p", f"dqn:{C}/dqn-extra", *TINY], "unexpected extra"),
    (["evaluate", "-p", f"dqn:{C}/dqn-f64", *TINY], "expected float32"),
    (["evaluate", "-p", f"dqn:{C}/dqn-hidden-bool", *TINY], "hidden"),
    (["evaluate", "-p", f"dqn:{C}/dqn-hidden-huge", *TINY], "hidden"),
    (["evaluate", "-p", f"dqn:{C}/dqn-actions", *TINY], "n_actions"),
    (["evaluate", "-p", f"dqn:{C}/dqn-no-fields", *TINY], "Field required"),
    (["evaluate", "-p", f"dqn:{C}/dqn-str-servers", *TINY], "n_servers"),
    (["evaluate", "-p", f"dqn:{C}/dqn-e3", *TINY], "3 edge servers"),
    (["evaluate", "-p", f"dqn:{C}/dqn-no-weights", *TINY], "no dqn checkpoint"),
    (["evaluate", "-p", f"dqn:{C}/dqn-empty-config", *TINY], "invalid JSON"),
    (["evaluate", "-p", f"dqn:{C}/dqn-null-config", *TINY], "expected a JSON object"),
    (["evaluate", "-p", f"dqn:{C}/dqn-nan-config", *TINY], "n_servers"),
    (["evaluate", "-p", f"dqn:{CKPT}/setnet-comllm", *TINY], "holds a 'setnet' checkpoint"),
    (["evaluate", "-p", f"setnet:{C}/set-inf", *TINY], "NaN or infinite"),
    (["evaluate", "-p", f"setnet:{C}/set-hidden-float", *TINY], "'hidden' must be an integer"),
    (["evaluate", "-p", f"setnet:{C}/set-hidden-bool", *TINY], "'hidden' must be an integer"),
    (["evaluate", "-p", f"setnet:{C}/set-kind-list", *TINY], "not 'setnet'"),
    (["evaluate", "-p", f"setnet:{C}/set-no-kind", *TINY], "not 'setnet'"),
    (["evaluate", "-p", f"setnet:{C}/set-foreign", *TINY], "not a readable safetensors"),
    (["evaluate", "-p", f"setnet:{C}/set-missing", *TINY], "missing chi.0.weight"),
    (["evaluate", "-p", f"setnet:{C}/set-latin1", *TINY], "not a UTF-8"),
    (["evaluate", "-p", f"setnet:{C}/set-dir-weights", *TINY], "no setnet checkpoint"),
    (["evaluate", "-p", f"setnet:{C}/set-dir-config", *TINY], "no setnet checkpoint"),
    (["evaluate", "-p", f"setnet:{C}/a-file", *TINY], "no setnet checkpoint"),
    (["sweep", "--param", "E", "--values", "6", "-p", f"dqn:{C}/dqn-nan", "-n", "1"], "NaN or infinite"),
    (["tier-eval", "-p", f"dl-tier:{C}/dl-layers-str", *TIER], "tier_layers"),
    (["tier-eval", "-p", f"dl-tier:{C}/dl-layers-bool", *TIER], "vm_layers"),
    (["tier-eval", "-p", f"dl-tier:{C}/dl-layers-huge", *TIER], "1 <= tier_layers <= 16"),
    (["tier-eval", "-p", f"dl-tier:{C}/dl-layers-list", *TIER], "tier_layers"),
    (["tier-eval", "-p", f"dl-tier:{C}/dl-layers-mismatch", *TIER], "needs 4 tier_sizes"),
    (["tier-eval", "-p", f"dl-tier:{C}/dl-sizes-input", *TIER], "start with 10 inputs"),
    (["tier-eval", "-p", f"dl-tier:{C}/dl-sizes-str", *TIER], "vm_sizes"),
    (["tier-eval", "-p", f"dl-tier:{C}/dl-shape", *TIER], "has shape (10, 63), expected (10, 64)"),
    (["tier-eval", "-p", f"dl-tier:{C}/dl-nan", *TIER], "NaN or infinite"),
    (["tier-eval", "-p", f"dl-tier:{C}/dl-missing", *TIER], "missing vm.2.weight"),
    (["tier-eval", "-p", f"dl-tier:{C}/dl-no-fields", *TIER], "Field required"),
    (["tier-eval", "-p", f"dl-tier:desc,{C}/dl-nan", *TIER], "NaN or infinite"),
    (["tier-eval", "-p", f"dl-tier:{C}/set-inf", *TIER], "not 'dl-tier'"),
    (["tier-eval", "-p", f"mec:setnet:{C}/set-inf", *TIER], "NaN or infinite"),
    (["run-ecs", str(FIX / "ecs_small"), "-p", f"setnet:{C}/set-missing", "--no-plots"], "missing chi.0.weight"),
    (["llm", "bench", "-p", f"setnet:{C}/set-foreign"], "not a readable safetensors"),
    # --- EdgeCloudSim folders and scenario files
    (["import-ecs", f"{E}/empty", "--out", f"{T}/x.toml"], "file not found"),
    (["import-ecs", f"{T}/afile", "--out", f"{T}/x.toml"], "afile"),
    (["import-ecs", f"{T}/missing-folder", "--out", f"{T}/x.toml"], "missing-folder"),
    (["import-ecs", f"{E}/badnumber", "--out", f"{T}/x.toml"], "simulation_time"),
    (["import-ecs", f"{E}/nanprop", "--out", f"{T}/x.toml"], "wlan_bandwidth"),
    (["import-ecs", f"{E}/warmup", "--out", f"{T}/x.toml"], "warm_up_period"),
    (["import-ecs", f"{E}/minmax", "--out", f"{T}/x.toml"], "max_number_of_mobile_devices"),
    (["import-ecs", f"{E}/xmlgarbage", "--out", f"{T}/x.toml"], "applications.xml"),
    (["import-ecs", f"{E}/xmltrunc", "--out", f"{T}/x.toml"], "edge_devices.xml"),
    (["import-ecs", f"{E}/usage", "--out", f"{T}/x.toml"], "usage"),
    (["import-ecs", f"{E}/noapps", "--out", f"{T}/x.toml"], "appl"),
    (["import-ecs", f"{E}/noprops", "--out", f"{T}/x.toml"], "default_config.properties"),
    (["import-ecs", f"{E}/dirprops", "--out", f"{T}/x.toml"], "is a folder, not a file"),
    (["import-ecs", f"{E}/fifoprops", "--out", f"{T}/x.toml"], "default_config.properties: not a regular file"),
    (["import-ecs", f"{E}/fifoapps", "--out", f"{T}/x.toml"], "applications.xml: not a regular file"),
    (["import-ecs", f"{E}/devedge", "--out", f"{T}/x.toml"], "edge_devices.xml: not a regular file"),
    (["import-ecs", f"{E}/sockprops", "--out", f"{T}/x.toml"], "default_config.properties: not a regular file"),
    (["run-ecs", f"{E}/fifoprops", "--no-plots"], "not a regular file"),
    (["run-ecs", f"{E}/fifoapps", "--no-plots"], "not a regular file"),
    (["run-ecs", f"{E}/devedge", "--no-plots"], "not a regular file"),
    (["run-ecs", f"{E}/dirprops", "--no-plots"], "is a folder"),
    (["run-ecs", f"{E}/badnumber", "--no-plots"], "simulation_time"),
    (["run-ecs", f"{E}/xmlgarbage", "--no-plots"], "applications.xml"),
    (["run-ecs", f"{T}/ecs-empty.toml", "--no-plots"], "sets no EdgeCloudSim scenario field"),
    (["run-ecs", f"{T}/garbage.toml", "--no-plots"], "not UTF-8"),
    (["run-ecs", f"{T}/fifo.toml", "--no-plots"], "not a regular file"),
    (["run-ecs", f"{T}/dir.toml", "--no-plots"], "dir.toml"),
    (["run-ecs", f"{T}/ok.toml", "--no-plots"], "EdgeCloudSim scenario"),
    (["run-ecs", str(FIX / "ecs_small"), "--devices", "100000000", "--no-plots"], "devices"),
    (["run-ecs", str(FIX / "ecs_small"), "--devices", "x", "--no-plots"], "devices"),
    (["run-ecs", str(FIX / "ecs_small"), "--orchestrators", "NOPE/X", "--no-plots"], "NOPE"),
    (["run-ecs", str(FIX / "ecs_small"), "--slot", "0", "--no-plots"], "--slot"),
    # --- other commands and options
    (["tier-eval", "-d", "-5"], "--devices"),
    (["tier-eval", "--seeds", "0"], "--seeds"),
    (["tier-train", "--samples", "5", "--out", f"{T}/ck"], "--samples"),
    (["tier-policies", "extra"], "extra"),
    (["policies", "extra"], "extra"),
    (["experiment", "comllm", "--seed", "-1"], "--seed"),
    (["experiment", "comllm", "--budget", ""], "--budget"),
    (["train", "dqn", "--steps", "0", "--out", f"{T}/ck"], "--steps"),
    (["evaluate", "--seed", "-3"], "--seed"),
    (["evaluate", "-n", "100001"], "--episodes"),
    (["llm", "prepare", "--backbone", "nope"], "nope"),
    (["llm", "finetune", "llm-sft", "-o", f"{T}/ck", "--layers", "0"], "--layers"),
    (["llm", "finetune", "llm-sft", "-o", f"{T}/ck", "--augment", "2"], "--augment"),
    (["llm", "finetune", "llm-sft", "-o", f"{T}/ck", "--style", "nope"], "nope"),
    (["llm", "finetune", "llm-sft", "-o", f"{T}/ck", "--sft-schedule", "nope"], "nope"),
    (["llm", "finetune", "llm-grpo", "-o", f"{T}/ck", "--init", f"{T}/missing"], "missing"),
    (["llm", "finetune", "llm-sft", "-o", f"{T}/ck", "-b", "nope"], "nope"),
    (["llm", "finetune", "llm-sft", "-o", f"{T}/ck", "--lr-sft", "nan"], "--lr-sft must be a finite number with 0 < lr_sft <= 1"),
    (["llm", "finetune", "llm-sft", "-o", f"{T}/ck", "--lr-sft", "-1e-4"], "0 < lr_sft <= 1"),
    (["llm", "finetune", "llm-sft", "-o", f"{T}/ck", "--lr-sft", "0"], "0 < lr_sft <= 1"),
    (["llm", "finetune", "llm-grpo", "-o", f"{T}/ck", "--lr-grpo", "inf"], "--lr-grpo must be a finite number"),
    (["llm", "finetune", "comllm", "-o", f"{T}/ck", "--lr-grpo", "5"], "lr_grpo <= 1"),
    (["llm", "finetune", "llm-sft", "-o", f"{T}/ck", "-b", "tiny", "--layers", "1000"], "backbone 'tiny' has 2 decoder layers"),
    (["llm", "finetune", "llm-sft", "-o", f"{T}/ck", "-b", "tiny", "--layers", "2", "--keep-last", "1"], "--layers 2 + --keep-last 1: backbone"),
    (["llm", "finetune", "llm-sft", "-o", f"{T}/ck", "--keep-last", "1"], "--keep-last 1 needs --layers N"),
    (["llm", "finetune", "llm-grpo", "-o", f"{T}/ck", "--init", f"{T}/afile", "--layers", "1"], "cannot change an --init"),
    (["llm", "finetune", "llm-sft", "-o", f"{T}/ck", "--layers", "1001"], "--layers"),
    (["llm", "finetune", "llm-sft", "-o", f"{T}/ck", "--sft-states", "2000000"], "--sft-states"),
    (["llm", "data", "--sft", "0", "--grpo", "0", "--test", "0", "--out", f"{T}/d"], "at least one set must have states"),
    (["llm", "data", "--sft", "2000000", "--out", f"{T}/d"], "--sft"),
    (["llm", "bench", "-p", "random", "--rows", "0"], "--rows"),
    (["llm", "nosuch"], "nosuch"),
]


def _prepare(argv: list[str], files: Path, ckpts: Path | None) -> list[str]:
    return [a.replace("{t}", str(files)).replace("{c}", str(ckpts)) for a in argv]


@pytest.mark.parametrize("argv, needle", BAD, ids=[" ".join(a)[:70] for a, _ in BAD])
def test_bad_input_is_one_error_line_exit_2_nothing_written(argv, needle, files, request, capsys, monkeypatch):
    if any("fifo" in a for a in argv) and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    ckpts = request.getfixturevalue("ckpts") if any("{c}" in a for a in argv) else None
    monkeypatch.chdir(files)
    before = sorted(str(p.relative_to(files)) for p in files.rglob("*"))
    cbefore = sorted(str(p) for p in ckpts.rglob("*")) if ckpts else []
    rc = main(_prepare(argv, files, ckpts))
    cap = capsys.readouterr()
    lines = [ln for ln in cap.err.splitlines() if ln.strip()]
    assert rc == 2, cap.err[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), cap.err[-2000:]
    assert needle in lines[0], lines[0]
    assert "Traceback" not in cap.err + cap.out and len(lines[0]) < 500
    assert sorted(str(p.relative_to(files)) for p in files.rglob("*")) == before  # nothing written
    assert (sorted(str(p) for p in ckpts.rglob("*")) if ckpts else []) == cbefore


def test_the_table_is_large_and_covers_every_command():
    assert len(BAD) >= 80
    commands = {a[0] if a[0] != "llm" else f"llm {a[1]}" for a, _ in BAD}
    expected = {"scenarios", "policies", "evaluate", "sweep", "train", "experiment", "tier-eval", "tier-train",
                "tier-policies", "import-ecs", "run-ecs", "llm prepare", "llm data", "llm finetune", "llm bench"}
    assert expected <= commands, expected - commands

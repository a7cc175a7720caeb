"""``mecoffload dnn profile|show``: the layer profiles of the DNN split analysis (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..core.errors import UserError
from ..dnn.profiles import NETWORKS, PROFILE_DIR, dumps_profile, load_profile, save_profile
from ..dnn.profiler import compute_profile
from ..dnn.torchnets import MODELS
from .common import check_writable, err, out

app = typer.Typer(no_args_is_help=True, help="DNN layer profiles (split points, MACs by layer kind, activation bytes)")


@app.command("profile")
def profile_cmd(
    model: str = typer.Argument(..., help=f"network: {', '.join(MODELS)}"),
    out_file: Optional[Path] = typer.Option(None, "--out", "-o", help="write the profile JSON here (default: print it)"),
) -> int:
    """Recompute a network's layer profile from its torchvision definition (needs `make setup-dnn`)."""
    if model not in MODELS:
        raise UserError(f"MODEL must be one of {', '.join(MODELS)} (got '{model}')")
    if out_file is not None:
        check_writable(out_file, folder=False)
    err.print(f"profiling {model} on meta tensors ...")
    doc = compute_profile(model)
    if out_file is None:
        typer.echo(dumps_profile(doc), nl=False)
        return 0
    out_file.parent.mkdir(parents=True, exist_ok=True)
    save_profile(doc, out_file)
    err.print(f"wrote {out_file} ({doc['total_macs'] / 1e9:.3f} GMAC, {len(doc['layers']) + 1} split points)")
    return 0


@app.command("show")
def show_cmd(model: str = typer.Argument(..., help=f"network: {', '.join(NETWORKS)} or a profile .json")) -> int:
    """Print a shipped profile as a table: per split point, cumulative GMAC and activation size."""
    p = load_profile(model)
    cum = 0.0
    out.print(f"[bold]{p.name}[/bold]: {p.total_macs / 1e9:.3f} GMAC, {p.params.sum() / 1e6:.2f} M parameters, "
              f"{p.n_layers + 1} split points ({PROFILE_DIR.name}/{p.name}.json)")
    act = p.act_bytes(4.0, 4.0)
    out.print(f"{'k':>3}  {'after layer':28s} {'type':18s} {'cum GMAC':>9s} {'act kB fp32':>11s}")
    out.print(f"{0:>3}  {'(input)':28s} {'':18s} {0.0:9.3f} {act[0] / 1e3:11.1f}")
    for i, (name, typ) in enumerate(zip(p.layer_names, p.layer_types)):
        cum += sum(float(p.macs[k][i]) for k in p.macs)
        size = "local" if i == p.n_layers - 1 else f"{act[i + 1] / 1e3:.1f}"
        out.print(f"{i + 1:>3}  {name:28s} {typ:18s} {cum / 1e9:9.3f} {size:>11s}")
    return 0

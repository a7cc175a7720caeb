"""Command line: ``mecoffload policies|scenarios|evaluate|sweep|train|experiment|tier-*|import-ecs|run-ecs|llm``.

One module per command group, each a typer sub-app merged into ``app`` here:

- ``info``       : ``policies``, ``scenarios``
- ``evaluate``   : ``evaluate``, ``sweep``
- ``train``      : ``train``
- ``experiment`` : ``experiment``
- ``tiers``      : ``tier-policies``, ``tier-eval``, ``tier-train``
- ``ecs``        : ``import-ecs``, ``run-ecs``
- ``llm``        : the ``llm`` group (``prepare``, ``data``, ``finetune``, ``bench``)
- ``compress``   : ``compress`` (pruning, int8, ONNX export of a trained policy)
- ``dnn``        : the ``dnn`` group (``profile``, ``show``): DNN layer profiles
- ``serve``      : ``serve``, ``serve-sim`` (the decision service, ``mecoffload.serve``)
- ``common``     : consoles, output paths, option parsing, tables
- ``runs``       : runner options (``--backend``, ``--jobs``, ``--address``), run folders
  (``--resume``, ``--force``, ``.partial``), cell progress bars, staged checkpoints

``main(argv) -> int`` runs in-process (used by the tests) and is the one error path:
bad input (:class:`~mecoffload.core.errors.UserError`, a usage error, a file that cannot be
read or written) prints one ``error: ...`` line on stderr and returns 2; Ctrl-C prints
``aborted: ...`` (during a run: where its ``.partial`` folder was kept) and returns 130; anything else is a bug: one ``error: internal error (...)``
line and exit code 1 (the traceback too when ``MECOFFLOAD_DEBUG=1``).
"""

from __future__ import annotations

import os
import sys
import traceback

import typer

try:  # recent typer vendors click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover - older typer depends on click
    from click.exceptions import ClickException, NoArgsIsHelpError

from ..core.errors import UserError, clip
from ..core.quiet import quiet_third_party
from . import compress, dnn, ecs, evaluate, experiment, info, llm, serve, tiers, train
from .runs import Interrupted

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="mecoffload: learning-based task offloading for Mobile Edge Computing. "
         "Third-party warnings are hidden unless `mecoffload --verbose COMMAND ...`.",
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", help="show third-party warnings and logs")) -> None:
    """mecoffload: learning-based task offloading for Mobile Edge Computing."""
for _group in (info, evaluate, train, experiment, tiers, ecs, compress, serve):
    app.add_typer(_group.app)
app.add_typer(llm.app, name="llm")
app.add_typer(dnn.app, name="dnn")

_COMMAND = typer.main.get_command(app)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _error(msg: str, code: int) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return code


def _invoke(argv: list[str]) -> int:
    with _COMMAND.make_context("mecoffload", argv) as ctx:
        rv = _COMMAND.invoke(ctx)
    return rv if isinstance(rv, int) else 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI in-process; return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    quiet_third_party(verbose="--verbose" in argv[:1])
    try:
        return _invoke(argv)
    except typer.Exit as exc:  # --help, ctx.exit()
        return exc.exit_code
    except NoArgsIsHelpError:  # the help was printed
        return 2
    except UserError as exc:
        return _error(_one_line(exc), 2)
    except ClickException as exc:  # usage errors: unknown option, bad value, missing argument
        return _error(_one_line(exc.format_message()), 2)
    except (KeyboardInterrupt, typer.Abort) as exc:  # Interrupted: a run folder was kept, its message says where
        print(f"aborted: {exc if isinstance(exc, Interrupted) else 'interrupted by the user'}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mecoffload policies | head -1`: the reader left; say nothing more
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the interpreter flushes it at exit
        return 1
    except OSError as exc:
        if exc.filename is None:
            return _internal(exc)
        return _error(f"cannot access '{clip(exc.filename)}': {exc.strerror or type(exc).__name__}", 2)
    except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into exit code 1
        return _internal(exc)


def _internal(exc: BaseException) -> int:
    if os.environ.get("MECOFFLOAD_DEBUG") == "1":
        traceback.print_exc()
    return _error(f"internal error ({type(exc).__name__}: {clip(_one_line(exc), 200)}); "
                  "please report it with the command line", 1)


def run() -> None:
    """Entry point of the ``mecoffload`` script."""
    sys.exit(main())

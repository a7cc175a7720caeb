"""Policy specs on the command line, and the checked arguments of one policy.

Grammar of ``--policies`` / ``-p``
----------------------------------
A *spec* is ``NAME`` or ``NAME:ARG`` (``NAME`` = letters, digits, ``-`` and ``_``, starting with
a letter; ``ARG`` is everything after the first ``:``, commas included). ``-p`` may be repeated;
:func:`parse_policy_specs` reads all its values in order:

1. each value is split on ``;`` into items;
2. each item is split on commas into tokens; a token that is a name (optionally followed by
   ``:ARG``) starts a new spec, any other token (``0.3``, ``gens=2``, ``/path``) continues the
   argument of the spec before it, which must have one;
3. empty items and tokens are dropped; at least one spec must remain.

So a plain comma list of argument-free names still works, keyword arguments keep their commas,
and the positional ``lacs:K,λ`` works on its own or after other names::

    -p random,oracle,lacs                       # three specs
    -p 'lacs:k=3,lambda=0.3' -p 'ga:pop=8,gens=2'
    -p 'lacs:3,0.3;ga:pop=8,gens=2;random'      # ';' between specs
    -p random,lacs:3,0.3                        # random, lacs:3,0.3
    -p comllm:runs/ck,random                    # a checkpoint folder, then random

Limitation: an argument cannot contain ``;`` nor a comma followed by a bare name (a checkpoint
folder ``a,b`` must be renamed).

Arguments of one policy
-----------------------
:func:`parse_policy_args` reads ``key=value[,key=value...]`` (or positional values, for the
keys a policy lists as positional) against a table of :class:`Arg` (type, range, choices); every
failure is one :class:`~mecoffload.core.errors.PolicyError` line that quotes the allowed range.
:func:`no_argument` is the check of every policy that takes no argument.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

from ..core.errors import PolicyError, clip
from ..sim.params import Params

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(:|$)")


def parse_policy_specs(values: list[str] | str, flag: str = "--policies") -> list[str]:
    """The policy specs of the (repeatable) ``-p`` option's values, in order (see the module docstring)."""
    if isinstance(values, str):
        values = [values]
    specs: list[str] = []
    for value in values:
        for item in str(value).split(";"):
            specs += _split_item(item, flag)
    if not specs:
        raise PolicyError(f"{flag}: give at least one policy name (e.g. -p random,oracle or -p 'ga:pop=8,gens=2')")
    return specs


def _split_item(item: str, flag: str) -> list[str]:
    out: list[str] = []
    for token in item.split(","):
        token = token.strip()
        if not token:
            continue
        if _NAME.match(token):
            name, colon, arg = token.partition(":")
            out.append(f"{name}:{arg.strip()}" if colon and arg.strip() else name)
        elif out and ":" in out[-1]:
            out[-1] += "," + token
        else:
            hint = "" if not out else f" (policy '{out[-1]}' takes no argument here; separate specs with ';')"
            raise PolicyError(f"{flag} '{clip(item)}': '{clip(token, 40)}' is not a policy name{hint}")
    return out


# ---------------------------------------------------------------------- arguments


@dataclass(frozen=True)
class Arg:
    """One argument of a policy: ``kind`` int, float or str; ints and floats are checked against
    ``lo <= value <= hi``, strings against ``choices``."""

    kind: type
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()

    def allowed(self, key: str) -> str:
        if self.choices:
            return f"one of {', '.join(self.choices)}"
        what = "an integer" if self.kind is int else "a number"
        return f"{what} with {self.lo} <= {key} <= {self.hi}"

    def convert(self, key: str, text: str) -> Any:
        """The checked value of ``key=text``; ValueError with the allowed range otherwise."""
        if self.choices:
            if text not in self.choices:
                raise ValueError(f"{key} must be {self.allowed(key)}, got '{clip(text, 40)}'")
            return text
        try:
            value = self.kind(text)
        except ValueError:
            raise ValueError(f"{key} must be {self.allowed(key)}, got '{clip(text, 40)}'") from None
        if (isinstance(value, float) and not math.isfinite(value)) or not self.lo <= value <= self.hi:
            raise ValueError(f"{key} must be {self.allowed(key)}, got {clip(text, 40)}")
        return value


def no_argument(name: str, arg: str | None) -> None:
    """The check of a policy that takes no argument: ``random:xyz`` is a PolicyError."""
    if arg:
        raise PolicyError(f"policy '{name}' takes no argument (got '{name}:{clip(arg, 60)}')")


def parse_policy_args(name: str, arg: str | None, table: dict[str, Arg], positional: tuple[str, ...] = (),
                      aliases: dict[str, str] | None = None) -> dict[str, Any]:
    """The arguments given in ``arg`` (``k=v,k=v`` or, for the keys in ``positional``, ``v,v``), checked
    against ``table``; keys not given are absent from the result. Errors: ``NAME argument 'ARG': ...``."""
    head = f"{name} argument '{clip(arg, 60)}'"
    usage = f"expected key=value[,...] with keys {', '.join(table)}"
    if positional:
        usage += f", or {','.join(k.upper() for k in positional)}"
    items = [s.strip() for s in (arg or "").split(",") if s.strip()]
    if not items:
        return {}
    keyword = any("=" in s for s in items)
    if not keyword:
        if not positional:
            raise PolicyError(f"{head}: {usage}")
        if len(items) > len(positional):
            raise PolicyError(f"{head}: at most {len(positional)} values ({usage})")
        items = [f"{k}={v}" for k, v in zip(positional, items)]
    out: dict[str, Any] = {}
    for item in items:
        key, eq, text = (s.strip() for s in item.partition("="))
        key = (aliases or {}).get(key, key)
        if not eq or not text:
            raise PolicyError(f"{head}: '{clip(item, 40)}' is not key=value; {usage}")
        if key not in table:
            raise PolicyError(f"{head}: unknown key '{clip(key, 40)}' (allowed: {', '.join(table)})")
        if key in out:
            raise PolicyError(f"{head}: key '{key}' given twice")
        try:
            out[key] = table[key].convert(key, text)
        except ValueError as exc:
            raise PolicyError(f"{head}: {exc}") from None
    return out


COST_MODEL_ARG = {"model": Arg(str, choices=("paper", "queue"))}
"""``NAME:model=paper|queue``: the cost model a policy decides with, instead of the scenario's
``cost.model`` (AL/TDR/PR are still reported under the scenario's model)."""


def with_cost_model(p: Params, given: dict[str, Any]) -> Params:
    """``p`` with the cost model of a policy's ``model=`` argument, when given."""
    model = given.get("model")
    return p if model is None or model == p.cost_model else replace(p, cost_model=model)

"""A generic name -> factory registry, one type for every kind of thing that is chosen by name
(the policies of each engine, learners, experiments).

Entries are either registered in-process with the :meth:`Registry.register` decorator, or
declared *lazily* as ``"package.module:attribute"`` strings with :meth:`Registry.lazy`, which
lets a lower layer list things defined in a higher layer (e.g. LLM policies) without importing
upwards: the module is imported by name only when the entry is used.
"""

from __future__ import annotations

import importlib
from typing import Callable, Generic, Iterable, TypeVar

from .errors import UserError

F = TypeVar("F", bound=Callable)


class Registry(Generic[F]):
    """name -> (factory, one-line help)."""

    def __init__(self, kind: str, error: type[UserError] = UserError, modules: Iterable[str] = ()):
        self.kind = kind
        self.error = error
        self._modules = list(modules)  # imported on first use so that their @register decorators run
        self._loaded = False
        self._entries: dict[str, tuple[F | str, str]] = {}

    def register(self, name: str, help: str) -> Callable[[F], F]:
        def deco(factory: F) -> F:
            self._entries[name] = (factory, help)
            return factory

        return deco

    def lazy(self, name: str, target: str, help: str) -> None:
        """Declare ``name`` whose factory is ``"module:attr"``, imported on first use."""
        self._entries[name] = (target, help)

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for mod in self._modules:
                importlib.import_module(mod)

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def help(self) -> dict[str, str]:
        """name -> one-line description, sorted by name."""
        self._load()
        return {k: self._entries[k][1] for k in sorted(self._entries)}

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries

    def get(self, name: str) -> F:
        """The factory of ``name``; an unknown name raises ``self.error`` listing the allowed ones."""
        self._load()
        if name not in self._entries:
            raise self.error(f"unknown {self.kind} '{name}' (allowed: {', '.join(sorted(self._entries))})")
        factory, help_ = self._entries[name]
        if isinstance(factory, str):
            module, _, attr = factory.partition(":")
            factory = getattr(importlib.import_module(module), attr)
            self._entries[name] = (factory, help_)
        return factory

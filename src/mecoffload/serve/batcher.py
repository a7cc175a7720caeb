"""Request coalescing: the decision requests that are waiting on the event loop are decided together.

While one ``Service.decide`` runs (on the event loop, synchronously), the requests of the other
connections wait in their sockets; when it returns, the loop reads them all and their handlers
reach ``Coalescer.decide`` in the same loop iteration. ``Coalescer`` lets the loop turn once more
(``SPINS`` times at most while new requests keep arriving), then decides every waiting request's
snapshots (row format or columnar) in one ``Service.decide_parts`` call — one policy forward pass per decision round for all of
them instead of one per request — and hands each request its own decisions back.

The decisions are those of deciding each request alone: snapshots are independent rows, decided
round by round exactly as before (for a deterministic policy; setnet's float32 scores may differ in
the last digit with the batch size, as between ``/v1/decide/batch`` and single requests).
Decision ids are numbered in the order of the combined call. When the combined call raises a
``SnapshotError`` (one request's snapshot does not fit the scenario), nothing is booked
(``Service.decide`` is all or nothing) and each request is decided on its own, so only the faulty
one gets its 422. With one request in flight (concurrency 1) this costs one extra loop turn (µs).
An int8 policy is never coalesced (``Served.alone``): dynamic quantisation scales the activations
per forward pass, so a row's decision can depend on the rows decided with it; each request is decided
on its own, and its answers depend on its own body only.
"""

from __future__ import annotations

import asyncio

from .columns import Parsed
from .service import Service
from .snapshot import SnapshotError

SPINS = 2  # extra event-loop turns to wait for requests that arrived together
MAX_SNAPSHOTS = 4096  # snapshots decided in one combined call (the batch endpoint's own limit)


class Coalescer:
    """Decides the waiting requests' snapshot lists together (see the module docstring)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._pending: list[tuple[Parsed, asyncio.Future]] = []
        self._scheduled = False
        self._seen = 0
        self._spins = 0
        self.calls = 0  # combined Service.decide_parts calls (for tests and the benchmark)

    async def decide(self, parsed: Parsed) -> tuple[str, list[list[dict]] | dict]:
        """(policy spec, decisions per snapshot, or K x T arrays for a columnar request) of one
        request's snapshots (``columns.Parsed``), decided with the others waiting."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._pending.append((parsed, fut))
        if not self._scheduled:
            self._scheduled, self._seen, self._spins = True, 0, 0
            loop.call_soon(self._tick)
        return await fut

    def _tick(self) -> None:
        if len(self._pending) > self._seen and self._spins < SPINS:  # more arrived meanwhile: one more turn
            self._seen, self._spins = len(self._pending), self._spins + 1
            asyncio.get_running_loop().call_soon(self._tick)
            return
        self._scheduled = False
        take, n = 0, 0
        while take < len(self._pending) and (take == 0 or n + self._pending[take][0].n <= MAX_SNAPSHOTS):
            n += self._pending[take][0].n
            take += 1
        batch, self._pending = self._pending[:take], self._pending[take:]
        if self._pending:  # over the cap: the rest in the next turn
            self._scheduled, self._seen, self._spins = True, 0, SPINS
            asyncio.get_running_loop().call_soon(self._tick)
        self._run(batch)

    def _run(self, batch: list[tuple[Parsed, asyncio.Future]]) -> None:
        live = [b for b in batch if not b[1].done()]  # a cancelled request (client gone) is not decided
        if not live:
            return
        self.calls += 1
        if len(live) == 1 or self.service.served.alone:  # an int8 policy: each request alone (Served.alone)
            for item in live:
                self._alone(*item)
            return
        try:
            results = self.service.decide_parts([parsed for parsed, _ in live])  # on copies of the boards
        except SnapshotError:  # nothing booked: decide each alone, so that only the faulty one fails
            for item in live:
                self._alone(*item)
            return
        except Exception as exc:  # noqa: BLE001 - a fault reaches every waiting request (500 each)
            for _, fut in live:
                fut.set_exception(exc)
            return
        for (_, fut), result in zip(live, results):
            fut.set_result(result)

    def _alone(self, parsed: Parsed, fut: asyncio.Future) -> None:
        try:
            fut.set_result(self.service.decide_parts([parsed])[0])
        except Exception as exc:  # noqa: BLE001 - SnapshotError (422) or a fault (500), raised in the request
            fut.set_exception(exc)

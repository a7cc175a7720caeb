"""The HTTP front of the decision service (FastAPI): routes, API key, body limit, access log, metrics.

``create_app(service, api_key=None, workers=1)`` builds the FastAPI app. Every ``/v1/*`` route needs the
key when one is configured (``Authorization: Bearer KEY`` or ``X-API-Key: KEY``, compared in
constant time); ``POST /v1/policy`` always needs it (disabled without a key). ``/healthz``,
``/readyz``, ``/metrics``, ``/``, ``/docs`` and ``/openapi.json`` are open. Decision routes are
``async`` and run on the event loop (a decision takes well under a millisecond; a thread hop
would cost as much); loading a policy runs in a worker thread so decisions continue meanwhile.

Fast path: ``Guard`` answers a well-formed ``POST /v1/decide`` / ``/v1/decide/batch`` itself
(``columns.from_json``: orjson and NumPy columns checked against the schema's limits, or where it
is unsure pydantic ``model_validate_json`` from the body bytes; ``Service.decide``, orjson) with
the same models and the same answer as the FastAPI routes (``/v1/decide/columns``: pydantic
``ColumnsIn`` from the bytes, ``columnar.parse``, ``Service.decide``); a request it does not take (a wrong
key, a body that fails validation, another content type) goes on to FastAPI, which answers it
(400/401/422 with ``detail[].loc``). The OpenAPI schema comes from the FastAPI routes.
"""


import hmac
import time
from contextlib import asynccontextmanager
from importlib import resources

from pydantic import ValidationError

from ..core.errors import UserError
from . import columnar
from .schema import (MAX_BODY_BYTES, BatchIn, BatchOut, ColumnsIn, ColumnsOut, DecideOut, OutcomeIn, OutcomeOut,
                     PolicyIn, PolicyOut, Snapshot)
from .accesslog import AccessLog, dumps
from .batcher import Coalescer
from .columns import Parsed, from_json, prepare
from .service import Service
from .snapshot import SnapshotError

STATIC = resources.files("mecoffload.serve") / "static"
ERRORS = {400: {"description": "the body is not JSON"}, 401: {"description": "missing or wrong API key"}, 413: {"description": "body over 1 MiB"},
          422: {"description": "a field outside its limits (detail[].loc names it)"}}


class Guard:
    """Pure ASGI middleware: refuses bodies over ``MAX_BODY_BYTES`` (413), answers the decision
    fast path (``FastDecide``), times every request into the monitor's histogram, counts it by path
    and status, and writes one JSON access-log line."""

    def __init__(self, app, service: Service, allow: dict[str, str], fast: "FastDecide", log: AccessLog):
        self.app, self.service, self.allow, self.fast, self.log = app, service, allow, fast, log
        self._children: dict[tuple, tuple] = {}  # (path, status) -> (histogram child, counter child)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        path = scope["path"] if scope["path"] in self.allow else "other"
        status = [500]
        allow = self.allow.get(scope["path"])
        if allow is not None and scope["method"] not in allow.split(", "):  # 405 listing every method of the path
            await _reply(send, 405, {"detail": "Method Not Allowed"}, [(b"allow", allow.encode())])
            self.service.monitor.requests.labels(path, "405").inc()
            return

        async def send_status(msg):
            if msg["type"] == "http.response.start":
                status[0] = msg["status"]
            await send(msg)

        body = await _read_body(scope, receive)
        answer = None
        if body is None:
            await _reply(send_status, 413, {"detail": f"request body over {MAX_BODY_BYTES} bytes (1 MiB)"})
        elif scope["method"] == "POST" and path in FAST_PATHS:
            answer = await self.fast(path, scope["headers"], body)
        if answer is not None:
            await _send_json(send_status, *answer)
        elif body is not None:
            done = False

            async def replay():
                nonlocal done
                if done:
                    return await receive()  # the client's disconnect, if it comes
                done = True
                return {"type": "http.request", "body": body, "more_body": False}

            await self.app(scope, replay, send_status)
        self._book(scope, path, status[0], time.perf_counter() - t0, len(body or b""))

    def _book(self, scope, path: str, status: int, dt: float, n_in: int) -> None:
        """Histogram, counter and access-log line of one request (``dt`` s)."""
        children = self._children.get((path, status))
        if children is None:
            mon = self.service.monitor
            children = self._children[(path, status)] = (mon.latency.labels(path), mon.requests.labels(path, str(status)))
        children[0].observe(dt)
        children[1].inc()
        if self.log.enabled():
            client = scope.get("client") or ("", 0)
            self.log.write({"ts": round(time.time(), 6), "method": scope["method"], "path": scope["path"],
                            "status": status, "ms": round(dt * 1e3, 3), "bytes_in": n_in,
                            "client": f"{client[0]}:{client[1]}"})


FAST_PATHS = ("/v1/decide", "/v1/decide/batch", "/v1/decide/columns")


class FastDecide:
    """The decision routes without FastAPI: (status, body bytes) of a request it takes, None for
    one FastAPI must answer (see the module docstring). Requests waiting together are decided in
    one call (``batcher.Coalescer``)."""

    def __init__(self, service: Service, auth: "Auth") -> None:
        self.service, self.auth, self.coalescer = service, auth, Coalescer(service)

    async def __call__(self, path: str, headers, body: bytes) -> tuple[int, bytes] | None:
        if not self._takes(headers):
            return None
        single = path == "/v1/decide"
        try:
            parsed = self._parse(path, single, body)
            if parsed is None:
                return None  # FastAPI answers it (400 or 422 naming the field)
            spec, out = await self.coalescer.decide(parsed)
        except SnapshotError as exc:
            self.service.monitor.invalid.labels(path).inc()
            return 422, dumps({"detail": [{"loc": list(exc.loc), "msg": exc.msg, "type": "value_error"}]})
        if parsed.columnar:
            return 200, dumps({"policy": spec, **out})
        if single:
            return 200, dumps({"policy": spec, "decisions": out[0]})
        return 200, dumps({"policy": spec, "results": [{"policy": spec, "decisions": d} for d in out]})

    def _parse(self, path: str, single: bool, body: bytes) -> Parsed | None:
        """The request's ``Parsed``: ``columns.from_json`` (row format) or, where it is unsure and for
        the columnar format, pydantic from the bytes; None when the body fails validation."""
        p = self.service.p
        if path == "/v1/decide/columns":
            try:
                return columnar.parse(ColumnsIn.model_validate_json(body), p)
            except ValidationError:
                return None
        parsed = from_json(body, single, p)  # columnar; None: not sure, ask pydantic
        if parsed is None:
            try:
                doc = (Snapshot if single else BatchIn).model_validate_json(body)
            except ValidationError:
                return None
            parsed = prepare([doc] if single else doc.snapshots, -1 if single else 0, p)
        return parsed

    def _takes(self, headers) -> bool:
        """A JSON body (or none said) and, when a key is configured, the right key."""
        for k, v in headers:
            if k == b"content-type" and v.split(b";")[0].strip().lower() != b"application/json":
                return False
        return self.auth.key is None or self.auth.authorized_headers(headers)


async def _send_json(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _read_body(scope, receive) -> bytes | None:
    """The whole request body, or None when it is over the limit (by Content-Length or by count)."""
    for k, v in scope.get("headers", ()):
        if k == b"content-length" and v.isdigit() and int(v) > MAX_BODY_BYTES:
            return None
    chunks, n = [], 0
    while True:
        msg = await receive()
        if msg["type"] != "http.request":
            break
        chunk = msg.get("body", b"")
        n += len(chunk)
        if n > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not msg.get("more_body"):
            break
    return b"".join(chunks)


async def _reply(send, status: int, doc: dict, headers: list | None = None) -> None:
    body = dumps(doc)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def freeze_heap() -> None:
    """Move every object alive now (torch, the policy, FastAPI: ~280,000) out of the garbage
    collector's reach (``gc.freeze``), so that its full collections, triggered every few hundred
    requests by their short-lived lists and dicts, walk only the requests' objects: with them, one
    took ~100 ms here and stalled every request in flight (p99 ~175 ms at 4 concurrent 64-snapshot
    requests). Called once the service is loaded and after a policy swap (``Service.swap``)."""
    import gc

    gc.collect()
    gc.freeze()


def create_app(service: Service, api_key: str | None = None, workers: int = 1):
    """The FastAPI app of ``service`` (see the module docstring)."""
    from fastapi import FastAPI

    log = AccessLog()

    @asynccontextmanager
    async def lifespan(_app):
        freeze_heap()
        service.ready = True
        service.monitor.ready.set(1)
        yield
        service.ready = False  # shutting down (SIGTERM): refuse readiness while in-flight requests finish
        service.monitor.ready.set(0)
        log.flush()

    app = FastAPI(title="mecoffload decision service", version="1", docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Task offloading decisions of one mecoffload policy on one scenario. "
                              "Units: s, Mbit, Mbit/s, GHz, Gcycles, m.")
    auth = Auth(api_key)
    invalid = _error_handlers(app, service)
    _decision_routes(app, service, auth)
    _policy_routes(app, service, auth, invalid, workers)
    _open_routes(app, service)
    methods: dict[str, set[str]] = {}
    for r in app.routes:
        if getattr(r, "methods", None) and not r.path.startswith("/static"):
            methods.setdefault(r.path, set()).update(r.methods)
    fast = FastDecide(service, auth)
    app.state.coalescer = fast.coalescer
    app.add_middleware(Guard, service=service, allow={p: ", ".join(sorted(m)) for p, m in methods.items()}, fast=fast,
                       log=log)
    return app


class Auth:
    """The API key (None: none configured), compared in constant time."""

    def __init__(self, api_key: str | None) -> None:
        self.key = api_key.encode() if api_key else None

    def authorized(self, request) -> bool:
        return self._check(request.headers.get("x-api-key") or "", request.headers.get("authorization") or "")

    def authorized_headers(self, headers) -> bool:
        """``authorized`` on raw ASGI headers [(name, value) bytes]."""
        h: dict[bytes, bytes] = {}
        for k, v in headers:
            if k in (b"x-api-key", b"authorization"):
                h.setdefault(k, v)  # the first one, as Starlette's Headers.get
        return self._check(h.get(b"x-api-key", b"").decode("latin-1"), h.get(b"authorization", b"").decode("latin-1"))

    def _check(self, given: str, auth: str) -> bool:
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return self.key is not None and hmac.compare_digest(given.encode(), self.key)

    def dependency(self):
        """The dependency of every /v1 route: 401 unless the key is right (when one is configured)."""
        from fastapi import HTTPException, Request

        def check_key(request: Request) -> None:
            if self.key is not None and not self.authorized(request):
                raise HTTPException(401, "missing or wrong API key (Authorization: Bearer KEY or X-API-Key: KEY)")

        return check_key


def _json(doc) -> "Response":
    from fastapi.responses import Response

    return Response(dumps(doc), media_type="application/json")


def _error_handlers(app, service: Service):
    """422 for schema and snapshot errors (counted); returns the function that makes one."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    def invalid(request: Request, detail: list) -> JSONResponse:
        service.monitor.invalid.labels(request.url.path).inc()
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()]
        return invalid(request, detail)

    @app.exception_handler(SnapshotError)
    async def _snapshot(request: Request, exc: SnapshotError):
        return invalid(request, [{"loc": list(exc.loc), "msg": exc.msg, "type": "value_error"}])

    return invalid


def _decision_routes(app, service: Service, auth: Auth) -> None:
    from fastapi import Depends, HTTPException

    mon = service.monitor
    v1 = {"dependencies": [Depends(auth.dependency())], "responses": ERRORS}

    @app.post("/v1/decide", response_model=DecideOut, summary="place the tasks of one snapshot, in order", **v1)
    async def decide(snapshot: Snapshot):
        spec, out = service.decide([snapshot], first=-1)
        return _json({"policy": spec, "decisions": out[0]})

    @app.post("/v1/decide/batch", response_model=BatchOut, summary="independent snapshots in one request", **v1)
    async def decide_batch(batch: BatchIn):
        spec, out = service.decide(batch.snapshots)
        return _json({"policy": spec, "results": [{"policy": spec, "decisions": d} for d in out]})

    @app.post("/v1/decide/columns", response_model=ColumnsOut, **v1,
              summary="independent snapshots of E servers and T tasks each, field by field (K x E / K x T arrays)")
    async def decide_columns(body: ColumnsIn):
        spec, out = service.decide(columnar.parse(body, service.p))
        return _json({"policy": spec, **out})

    @app.post("/v1/outcome", response_model=OutcomeOut, summary="report a decided task's realized latency or drop",
              responses={**ERRORS, 404: {"description": "unknown, rejected or too old decision_id"}},
              dependencies=[Depends(auth.dependency())])
    async def outcome(o: OutcomeIn):
        booked = mon.outcome(o.decision_id, None if o.dropped else o.realized_latency_s)
        if booked is None:
            raise HTTPException(404, f"decision_id {o.decision_id} is unknown, rejected or older than the kept ones")
        spec, est, err = booked
        return {"policy": spec, "estimated_latency_s": est, "error_s": err}

    @app.get("/v1/stats", summary="realized vs estimated latency per policy (s)", **v1)
    async def stats() -> dict:
        return {"policies": mon.stats()}


def _policy_routes(app, service: Service, auth: Auth, invalid, workers: int) -> None:
    from fastapi import Depends, HTTPException, Request
    from starlette.concurrency import run_in_threadpool

    @app.get("/v1/policy", response_model=PolicyOut, summary="the policy and scenario being served",
             dependencies=[Depends(auth.dependency())], responses=ERRORS)
    async def policy_get():
        return service.info()

    @app.post("/v1/policy", response_model=PolicyOut, summary="serve another policy (API key required)",
              responses={**ERRORS, 403: {"description": "no API key configured"},
                         409: {"description": "several workers"}})
    async def policy_post(body: PolicyIn, request: Request):
        if auth.key is None:
            raise HTTPException(403, "replacing the policy needs an API key: start the service with --api-key-file")
        if not auth.authorized(request):
            raise HTTPException(401, "missing or wrong API key (Authorization: Bearer KEY or X-API-Key: KEY)")
        if workers > 1:
            raise HTTPException(409, f"{workers} workers: restart the service to change the policy of all of them")
        try:
            await run_in_threadpool(service.swap, body.spec)  # decisions go on meanwhile, with the old policy
            await run_in_threadpool(_refreeze)
        except UserError as exc:
            return invalid(request, [{"loc": ["body", "spec"], "msg": str(exc), "type": "value_error"}])
        return service.info()


def _refreeze() -> None:
    """After a swap: the old policy's objects become collectable again, then the new ones are frozen."""
    import gc

    gc.unfreeze()
    freeze_heap()


def _open_routes(app, service: Service) -> None:
    """Health, readiness, metrics, the dashboard and the docs page (no key)."""
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
    from fastapi.staticfiles import StaticFiles

    @app.get("/healthz", summary="the process is up")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", summary="the service takes decisions", responses={503: {"description": "not ready"}})
    async def readyz():
        if not service.ready:
            return JSONResponse({"status": "not ready"}, status_code=503)
        return {"status": "ready", "policy": service.served.spec}

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics():
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(service.monitor.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def dashboard():
        return FileResponse(str(STATIC / "index.html"))

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return HTMLResponse((STATIC / "docs.html").read_text())

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

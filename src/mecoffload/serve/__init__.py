"""The decision service (layer 5, beside the CLI): a policy behind HTTP, with live monitoring.

- ``schema``   : request / response bodies with their limits (pydantic)
- ``snapshot`` : snapshots <-> ``sim.dynamics.Obs`` rows; the sequential decision update
- ``service``  : ``Service`` (scenario, policy, decisions, policy swap) without HTTP
- ``monitor``  : Prometheus metrics and realized-vs-estimated statistics
- ``app``      : the FastAPI app (routes, API key, body limit, JSON access log) and its decision fast path
- ``batcher``  : ``Coalescer``: the decision requests waiting together are decided in one call
- ``server``   : ``serve`` (uvicorn, workers, SIGTERM) and the API-key rules
- ``remote``   : ``RemotePolicy`` and ``serve_sim``: the simulator driven through the service
- ``static/``  : the dashboard and the API docs page (no CDN)

Needs the ``serve`` extra (fastapi, uvicorn, httpx, prometheus-client, orjson). Docs: docs/serve.md.
"""

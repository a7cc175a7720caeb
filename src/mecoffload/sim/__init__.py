"""The MEC engine (seed 001's system model): a time-slotted, vectorised simulator of B environments.

- ``params``    : scenario constants in SI units for the hot path (``Params``)
- ``cost``      : the estimated cost model, eqs 1-11 (latency C, generalized cost J, the one-step oracle)
- ``kernels``   : compiled (Numba) per-task loops of the dynamics and the cost model
- ``dynamics``  : state, arrivals, observation, decisions, service (``reset``/``draw_slot``/``observe``/``decide``/``serve``)
- ``rollout``   : the one rollout loop (decision stream, ε-oracle behaviour, closed-loop evaluation run)
- ``rewards``   : rewards of a decision: one-step −J (eq 14) and LACS (eqs 22-26)
- ``metrics``   : AL, TDR, PR, LBI (eqs 28-33), realized latency, drops, energy, max server delay
- ``features``  : the flat observation of the Gymnasium envs
- ``envbatch``  : B episodes over one state, each at its own slot (under the envs)
- ``env``       : Gymnasium ``OffloadEnv`` / ``OffloadVectorEnv``
- ``arrays``    : small array helpers shared by the engines
- ``lacs``      : old path of the LACS functions (re-exports ``rewards``)
"""

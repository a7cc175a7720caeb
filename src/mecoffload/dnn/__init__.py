"""DNN partitioning (seed 004, issue 16): layer profiles of real networks, device and server
models, and the single-device split analysis (Neurosurgeon's rule) — engine layer 1.

- :mod:`.profiles`  : shipped per-layer profiles (JSON package data) as NumPy arrays
- :mod:`.profiler`  : regenerate a profile from torchvision's definition (``mecoffload dnn profile``)
- :mod:`.torchnets` : the networks as chains of split stages; the torchvision import guard
- :mod:`.accuracy`  : published top-1 of the fp32 / int8 / pruned variants, with sources
- :mod:`.devices`   : device classes, servers and uplinks, each constant with its source
- :mod:`.partition` : latency and device energy of every split point, vectorised; the Neurosurgeon rule

Nothing here imports torch at module level; only the profiler needs torch and torchvision.
"""

"""Layer 0 of the house: what every engine, policy, learner and command shares.

- ``errors``   : the one family of user-facing errors (one line, exit 2)
- ``registry`` : the generic name -> factory registry (policies of every engine, learners, experiments)
- ``optional`` : the one import guard for optional heavy dependencies (prints the pip line)
- ``scenario`` : the scenario base of every engine (pydantic sections, TOML presets, ``--set``
  overrides, the one validation-error format, readable file errors)
- ``checkpoint``: checkpoint IO (safetensors + JSON config, atomic writes, validation before use)
- ``resources``: memory bounds (refuse a run whose estimate exceeds the free memory)
- ``quiet``    : third-party warnings and logs off stderr unless ``--verbose``

Nothing here imports from any other part of ``mecoffload``.
"""

"""Layer 0 of the house: what every engine, policy, learner and command shares.

- ``errors``   : the one family of user-facing errors (one line, exit 2)
- ``registry`` : the generic name -> factory registry (policies of every engine, learners, experiments)
- ``optional`` : the one import guard for optional heavy dependencies (prints the pip line)

Nothing here imports from any other part of ``mecoffload``.
"""

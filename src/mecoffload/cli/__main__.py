"""``python -m mecoffload.cli ...``"""

from . import run

run()

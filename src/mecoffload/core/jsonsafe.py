"""Outputs never hold NaN or Inf: a metric with no data is ``null`` in JSON, an empty cell in CSV
and ``–`` in tables (issue 13 item 4). In memory a metric with no data stays ``nan``; these helpers
are applied where results are written or printed."""

from __future__ import annotations

import json
import math

import numpy as np

NO_DATA = "–"
"""what a table shows for a metric with no data"""


def finite(obj):
    """``obj`` with NaN / inf replaced by None and numpy scalars / arrays made plain (JSON-safe)."""
    if isinstance(obj, dict):
        return {str(k): finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return finite(obj.tolist())
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def dumps(obj, **kw) -> str:
    """Strict JSON (``allow_nan=False``) of ``finite(obj)``."""
    return json.dumps(finite(obj), allow_nan=False, **kw)


def csv_value(v):
    """A CSV cell: None, NaN and inf as an empty cell."""
    if v is None or (isinstance(v, (float, np.floating)) and not math.isfinite(v)):
        return ""
    return v


def has_data(v) -> bool:
    """False for None, NaN and inf (a metric with no data)."""
    return not (v is None or (isinstance(v, (float, np.floating)) and not math.isfinite(v)))

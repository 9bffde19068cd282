"""Where the generator writes what no real export holds: its hidden state and the truths
the evaluation and the closed loop are checked against, in ``<raw>/_truth/``.

Nothing outside the simulator reads this folder by convention: ``churn train --reference
FILE`` names the horizon probability explicitly, and validation and the raw digest
read the top-level tables only.
"""

from __future__ import annotations

import pyarrow as pa

TRUTH_DIR = "_truth"
TRUTH_HAZARD_FILE = "hazard.parquet"  # client_id, month (ts), hazard (monthly probability)
# client_id, as_of (ts), probability: true P(churn in [as_of, as_of + horizon) | state at as_of)
TRUTH_HORIZON_FILE = "horizon_probability.parquet"
HORIZON_SCHEMA = pa.schema(
    [
        ("client_id", pa.int64()),
        ("as_of", pa.timestamp("us", tz="UTC")),
        ("probability", pa.float64()),
    ]
)
HORIZON_ESTIMATOR = b"monte carlo forward simulation from the state at as_of"

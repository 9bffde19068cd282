"""The randomised holdout: a seeded random share of the would-be-called clients is not called.

Without it nobody can say what the calls achieve: the clients called are the riskiest, so
their churn cannot be compared with anyone else's. Each week ``retention.holdout_share``
of the clients the list would call are held out, **stratified by risk decile** (deciles of
the probability over the whole scored week), so called and held-out clients have the same
risk mix and the comparison within a decile is a clean experiment. Within a stratum of
``n`` clients exactly ``floor(share x n)`` are held out plus one more with probability
equal to the remainder, so every client's chance of being held out is ``share`` exactly;
``propensity`` is the client's probability of being *called* (``1 - share``) as recorded
in the store's ``call_list.propensity``. The draw is seeded by ``retention.holdout_seed``
and the week's ``as_of``: the same week gives the same split, different weeks differ.
Held-out clients keep their rank but never go to the call-scheduling system.

**A control was never sent.** A client the store sent to the scheduler within the washout
window (``store.weeks.sent_since``: whatever outcomes arrived for it) may already have
been called, so it cannot be a control: such a listed client is called again
(``propensity`` 1) and the draw runs over the other members of its stratum.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from churn.errors import InputError

CALL, HOLDOUT = "call", "holdout"


def risk_deciles(probability: np.ndarray | pd.Series, n_bins: int = 10) -> np.ndarray:
    """Decile 1 (lowest) .. ``n_bins`` (highest) by rank of the probability; ties share the
    lower rank, so equal probabilities always fall in the same decile."""
    p = pd.Series(np.asarray(probability, dtype=float))
    if len(p) == 0:
        return np.zeros(0, dtype=np.int64)
    rank = p.rank(method="min").to_numpy() - 1  # 0-based, ties -> lowest
    return (np.floor(rank * n_bins / len(p)).astype(np.int64) + 1).clip(1, n_bins)


def assign_holdout(
    calls: pd.DataFrame,
    *,
    decile: np.ndarray | pd.Series,
    share: float,
    seed: int,
    as_of: date,
    eligible: np.ndarray | None = None,
) -> pd.DataFrame:
    """``calls`` plus ``risk_decile``, ``assignment`` ('call' | 'holdout') and ``propensity``.

    ``decile`` is each listed client's risk decile (same order as ``calls``). ``eligible``
    (default all): which listed clients may be held out; the others are called with
    propensity 1 (sent to the scheduler within the washout: not a clean control).
    """
    if not 0 <= share < 1:
        raise InputError(f"retention.holdout_share: must be in [0, 1), got {share}")
    decile = np.asarray(decile, dtype=np.int64)
    if len(decile) != len(calls):
        raise InputError(f"decile: {len(decile)} values for {len(calls)} listed clients")
    may = np.ones(len(calls), dtype=bool) if eligible is None else np.asarray(eligible, bool)
    if len(may) != len(calls):
        raise InputError(f"eligible: {len(may)} values for {len(calls)} listed clients")
    rng = np.random.default_rng([int(seed), pd.Timestamp(as_of).toordinal()])
    held = np.zeros(len(calls), dtype=bool)
    # strata in a fixed order, members by client id: the draw does not depend on row order
    ids = calls["client_id"].to_numpy()
    for d in np.unique(decile):
        members = np.flatnonzero((decile == d) & may)
        members = members[np.argsort(ids[members], kind="stable")]
        exact = share * len(members)
        k = int(np.floor(exact)) + int(rng.random() < exact - np.floor(exact))
        held[rng.permutation(members)[:k]] = True
    return calls.assign(
        risk_decile=decile,
        assignment=np.where(held, HOLDOUT, CALL),
        propensity=np.where(may, 1.0 - share, 1.0),
    )


def to_scheduler(assigned: pd.DataFrame) -> pd.DataFrame:
    """The list sent to the call-scheduling system: held-out clients removed, ranks 1..n."""
    sent = assigned[assigned["assignment"] == CALL].reset_index(drop=True)
    return sent.assign(rank=np.arange(1, len(sent) + 1))

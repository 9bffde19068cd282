"""The notebooks run top to bottom on the session's generated base and champion model.

Each notebook reads its inputs from environment variables (``CHURN_FEATURES``,
``CHURN_RAW_DIR``, ``MLFLOW_TRACKING_URI``, ``CHURN_LOOP_DIR``); here they point at the session fixtures, and
the kernel (started by nbclient from this interpreter, so the project's venv) inherits
them. To add a notebook, add one ``pytest.param`` to :data:`NOTEBOOKS` with a function
that checks what the notebook must produce.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from churn.config import load_config

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
CELL_TIMEOUT_S = 600


def tagged_outputs(nb: nbformat.NotebookNode, tag: str) -> list[dict[str, Any]]:
    """Outputs of the code cells carrying ``tag`` in their metadata."""
    cells = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert cells, f"no cell tagged {tag!r}"
    return [out for cell in cells for out in cell.get("outputs", [])]


def check_rule_vs_model(nb: nbformat.NotebookNode) -> None:
    """02: the 3x3 agreement table (counts and churn rates) and the capacity table."""
    payloads = [
        o["data"]["application/json"]
        for o in tagged_outputs(nb, "agreement")
        if "application/json" in o.get("data", {})
    ]
    assert len(payloads) == 1
    table = payloads[0]
    assert table["bands"] == ["high", "dynamic", "no_threat"]
    counts, rates = table["counts"], table["churn_rate"]
    assert len(counts) == 3 and all(len(row) == 3 for row in counts)
    assert sum(map(sum, counts)) > 0
    for count_row, rate_row in zip(counts, rates, strict=True):
        for n, rate in zip(count_row, rate_row, strict=True):
            assert (rate is None) == (n == 0)
            assert rate is None or 0.0 <= rate <= 1.0
    shown = "".join(
        o.get("data", {}).get("text/plain", "") for o in tagged_outputs(nb, "agreement")
    )
    assert "rule band" in shown and "model band" in shown
    capacity = "".join(
        o.get("data", {}).get("text/plain", "") + o.get("text", "")
        for o in tagged_outputs(nb, "capacity")
    )
    assert "recall_at_capacity" in capacity and "AUC gain" in capacity
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the agreement heat map and the ROC / capture curves


def check_explaining_a_client(nb: nbformat.NotebookNode) -> None:
    """03: one client per model band (or the nearest), each explained in words and a chart."""
    payloads = [
        o["data"]["application/json"]
        for o in tagged_outputs(nb, "walkthrough")
        if "application/json" in o.get("data", {})
    ]
    assert len(payloads) == 1
    clients = payloads[0]["clients"]
    words = load_config().reasons  # "raises risk" / "lowers risk", as the specialists word it
    assert [c["wanted_band"] for c in clients] == ["high", "dynamic", "no_threat"]
    for c in clients:
        assert c["how"] in ("in band", "nearest (band empty)")
        assert c["how"] != "in band" or c["risk_band"] == c["wanted_band"]
        assert 0.0 <= c["probability"] <= 1.0
        assert c["rule_band"] in ("high", "dynamic", "no_threat")
        assert c["sentences"]
        assert all(words.raises in t or words.lowers in t for t in c["sentences"])
    probabilities = [c["probability"] for c in clients]
    assert probabilities == sorted(probabilities, reverse=True)
    shown = "".join(o.get("text", "") for o in tagged_outputs(nb, "client"))
    assert shown.count("chance of leaving") == 3 and "contact-necessity index" in shown
    charts = [o for o in tagged_outputs(nb, "client") if "image/png" in o.get("data", {})]
    assert len(charts) == 3  # one SHAP bar chart per client


def check_what_calls_achieve(nb: nbformat.NotebookNode) -> None:
    """04: the profit curve, the holdout result against the truth, the ranking comparison."""
    profit = "".join(o.get("text", "") for o in tagged_outputs(nb, "profit"))
    assert "profit_curve:" in profit and "binds the list" in profit
    payloads = [
        o["data"]["application/json"]
        for o in tagged_outputs(nb, "holdout")
        if "application/json" in o.get("data", {})
    ]
    assert len(payloads) == 1
    measured, truth = payloads[0]["measured"], payloads[0]["truth"]
    assert measured["n_called"] > measured["n_holdout"] > 0
    assert payloads[0]["covered"] == (measured["ci_low"] <= truth <= measured["ci_high"])
    shown = "".join(o.get("text", "") for o in tagged_outputs(nb, "holdout"))
    assert "retained per 100 calls" in shown and "simulated truth" in shown
    ranks = "".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "")
        for o in tagged_outputs(nb, "rankings")
    )
    assert "best by the truth" in ranks and "uplift" in ranks and "expected_profit" in ranks
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # profit curve, Qini curve, ranking bars


NOTEBOOKS = [
    pytest.param("02-rule-vs-model.ipynb", check_rule_vs_model, id="02-rule-vs-model"),
    pytest.param(
        "03-explaining-a-client.ipynb", check_explaining_a_client, id="03-explaining-a-client"
    ),
    pytest.param(
        "04-what-calls-achieve.ipynb", check_what_calls_achieve, id="04-what-calls-achieve"
    ),
]


@pytest.fixture(scope="session")
def notebook_env(
    small_snapshots: Path, small_raw: Path, mlflow_uri: str, trained: dict, closed_loop: dict
) -> dict[str, str]:
    """Environment pointing the notebooks at the session's data, champion model and
    closed-loop run (04 reads the ranking comparison committed in notebooks/results/)."""
    assert trained["model_version"]
    return {
        "CHURN_FEATURES": str(small_snapshots),
        "CHURN_RAW_DIR": str(small_raw),
        "MLFLOW_TRACKING_URI": mlflow_uri,
        "CHURN_LOOP_DIR": str(closed_loop["out"]),
    }


def execute(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return nb


@pytest.mark.parametrize(("name", "check"), NOTEBOOKS)
def test_notebook_runs_top_to_bottom(
    name: str,
    check: Callable[[nbformat.NotebookNode], None],
    notebook_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in notebook_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # let the kernel use its inline backend
    nb = execute(NOTEBOOK_DIR / name)  # raises CellExecutionError naming the failing cell
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    check(nb)


@pytest.mark.parametrize("path", sorted(NOTEBOOK_DIR.glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_are_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, path.name

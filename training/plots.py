"""Evaluation plots (PNG) and the one self-contained HTML report.

Kept apart from :mod:`training.evaluate` so that computing metrics never imports
matplotlib or SHAP. The Agg backend is selected inside :func:`write_plots_and_report`
(never at import time): training runs on servers without a display.
"""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from training.model import ChurnModel
    from training.results import Evaluation

log = logging.getLogger(__name__)

COLOURS = {"model": "#1f77b4", "rule": "#d62728", "baseline": "#9467bd", "reference": "#2ca02c"}
LABELS = {
    "model": "model (LightGBM)",
    "rule": "rule (contact_index)",
    "baseline": "baseline (logistic regression, same signals)",
    "reference": "reference (true horizon probability)",
}
SHAP_SAMPLE_ROWS = 2000


def _present(scores: dict[str, np.ndarray | None]) -> dict[str, np.ndarray]:
    from training.evaluate import _finite

    return {name: _finite(s) for name, s in scores.items() if s is not None}


def _metric(result: Evaluation, name: str, key: str) -> Any:
    """One metric of one score (None when the score is absent)."""
    metrics = result.scores.get(name)
    return metrics.get(key) if metrics is not None else None


def _style(name: str) -> dict[str, Any]:
    return {"color": COLOURS.get(name), "label": LABELS.get(name, name)}


def gains_curve(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of clients called vs share of churners caught, ties joined linearly.

    Points sit at the end of each group of equal scores, so a straight segment across a
    tie group is exactly the expectation under a random tie-break.
    """
    from training.evaluate import _finite

    y = np.asarray(y, dtype=float)
    scores = _finite(scores)
    order = np.argsort(-scores, kind="stable")
    s_sorted, y_sorted = scores[order], y[order]
    ends = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(s_sorted) - 1]
    called = np.r_[0.0, (ends + 1) / len(y)]
    caught = np.r_[0.0, np.cumsum(y_sorted)[ends] / max(y.sum(), 1.0)]
    return called, caught


def plot_roc(ax: Axes, y: np.ndarray, scores: dict[str, np.ndarray], result: Evaluation) -> None:
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(y, s)
        auc = _metric(result, name, "roc_auc")
        style = _style(name)
        style["label"] += f"  AUC {auc:.3f}" if auc is not None else ""
        ax.plot(fpr, tpr, **style)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right", fontsize=8)


def plot_pr(ax: Axes, y: np.ndarray, scores: dict[str, np.ndarray], result: Evaluation) -> None:
    for name, s in scores.items():
        precision, recall, _ = precision_recall_curve(y, s)
        ap = _metric(result, name, "pr_auc")
        style = _style(name)
        style["label"] += f"  AP {ap:.3f}" if ap is not None else ""
        ax.step(recall, precision, where="post", **style)
    ax.axhline(float(np.mean(y)), color="grey", linestyle=":", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    ax.legend(loc="upper right", fontsize=8)


def plot_calibration(ax: Axes, result: Evaluation) -> None:
    table = pd.DataFrame([vars(b) for b in result.calibration])
    if not table.empty:
        ax.plot(table["mean_predicted"], table["observed_rate"], "o-", **_style("model"))
        top = float(max(table["mean_predicted"].max(), table["observed_rate"].max(), 0.05))
        ax.plot([0, top], [0, top], color="grey", linestyle=":", label="perfect")
    ax.set(
        xlabel="mean predicted probability (decile)",
        ylabel="observed churn rate",
        title="Calibration by decile (test block)",
    )
    ax.legend(loc="upper left", fontsize=8)


def plot_gains(ax: Axes, y: np.ndarray, scores: dict[str, np.ndarray], result: Evaluation) -> None:
    for name, s in scores.items():
        called, caught = gains_curve(y, s)
        ax.plot(called, caught, **_style(name))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    block = result.block
    if block.calls_per_snapshot and block.rows and block.as_of_dates:
        share = block.calls_per_snapshot * block.as_of_dates / block.rows
        if share < 1:
            ax.axvline(share, color="black", linewidth=0.8, label="call capacity")
    ax.set(
        xlabel="share of clients called",
        ylabel="share of churners caught",
        title="Cumulative gains",
    )
    ax.legend(loc="lower right", fontsize=8)


def _save(path: Path, draw: Callable[[Axes], None], size: tuple[float, float] = (6, 5)) -> Path:
    import matplotlib.pyplot as plt

    with plt.style.context("default"):  # Optuna's plots switch the global style to ggplot
        fig, ax = plt.subplots(figsize=size)
        try:
            draw(ax)
            fig.tight_layout()
            fig.savefig(path, dpi=110)
        finally:
            plt.close(fig)
    return path


def shap_summary(path: Path, model: ChurnModel, X_sample: pd.DataFrame, seed: int = 0) -> Path:
    """SHAP beeswarm of the booster's log-odds on a sample of rows."""
    import matplotlib.pyplot as plt
    import shap

    sample = X_sample
    if len(sample) > SHAP_SAMPLE_ROWS:
        sample = sample.sample(SHAP_SAMPLE_ROWS, random_state=seed)
    X = model.prepare(sample)
    values = shap.TreeExplainer(model.booster).shap_values(X)
    if isinstance(values, list):  # older SHAP returned one array per class
        values = values[-1]
    # colour by value: categorical levels shown by their code, missing stays NaN
    shown = X.apply(
        lambda c: c.cat.codes.where(c.notna()) if isinstance(c.dtype, pd.CategoricalDtype) else c
    )
    with plt.style.context("default"):
        shap.summary_plot(
            values, shown.astype(float), show=False, max_display=20, rng=np.random.default_rng(seed)
        )
        fig = plt.gcf()
        try:
            fig.tight_layout()
            fig.savefig(path, dpi=110)
        finally:
            plt.close(fig)
    return path


# --------------------------------------------------------------------------- HTML

METRIC_ROWS: tuple[tuple[str, str], ...] = (
    ("roc_auc", "ROC-AUC"),
    ("roc_auc_ci_low", "ROC-AUC 95 % CI low"),
    ("roc_auc_ci_high", "ROC-AUC 95 % CI high"),
    ("pr_auc", "PR-AUC"),
    ("brier", "Brier score"),
    ("log_loss", "log loss"),
    ("lift_top_decile", "lift, top decile"),
    ("recall_at_capacity", "recall, weekly call lists to the next snapshot (mean over dates)"),
    ("precision_at_capacity", "precision, weekly call lists (mean over dates)"),
    ("recall_at_capacity_pooled", "recall, weekly call lists (pooled)"),
    ("precision_at_capacity_pooled", "precision, weekly call lists (pooled)"),
    ("recall_first_week", "recall, first week's list alone (mean over dates)"),
    ("precision_first_week", "precision, first week's list alone (mean over dates)"),
    ("capacity_ranking", "call-list ranking used"),
    ("base_rate", "churn base rate"),
    ("probability_source", "probability for Brier / log loss"),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "&mdash;"
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def _plain(value: Any) -> str:
    """A number for text that _table escapes afterwards (no HTML entities here)."""
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def metrics_html(result: Evaluation) -> str:
    names = [n for n in ("model", "rule", "baseline", "reference") if result.scores.get(n)]
    rows = [[label, *(_metric(result, n, key) for n in names)] for key, label in METRIC_ROWS]
    return _table(["metric", *names], rows)


def summary_html(result: Evaluation) -> str:
    gain, base_gain, gap_ci, ref_gap = (
        x.to_dict() if x is not None else {}
        for x in (
            result.auc_gain,
            result.baseline_gain,
            result.gap_closed_ci,
            result.reference_minus_model,
        )
    )
    block = vars(result.block)
    rule = result.rule_indicator or {"available": True}
    if rule.get("available", True):
        rule_items: list[tuple[str, Any]] = [
            ("AUC gain, model - rule (observed)", gain.get("observed")),
            ("AUC gain, bootstrap mean", gain.get("mean")),
            (
                "AUC gain, 95 % CI",
                f"[{_plain(gain.get('ci_low'))}, {_plain(gain.get('ci_high'))}]",
            ),
        ]
    else:
        why = (rule.get("reason") or {}).get("en", "")
        rule_items = [("rule indicator", f"not available ({why})")]
    items = [
        *rule_items,
        ("AUC gain, model - baseline (observed)", base_gain.get("observed")),
        (
            "AUC gain over the baseline, 95 % CI",
            f"[{_plain(base_gain.get('ci_low'))}, {_plain(base_gain.get('ci_high'))}]",
        ),
        ("bootstrap rounds (clients resampled)", (gain or base_gain).get("rounds")),
        (
            "share of the reference's AUC over chance, (model-0.5)/(ref-0.5)",
            result.gap_closed,
        ),
        ("  95 % CI", f"[{_plain(gap_ci.get('ci_low'))}, {_plain(gap_ci.get('ci_high'))}]"),
        ("reference - model ROC-AUC (observed)", ref_gap.get("observed")),
        (
            "  95 % CI (paired client bootstrap)",
            f"[{_plain(ref_gap.get('ci_low'))}, {_plain(ref_gap.get('ci_high'))}]",
        ),
        ("reference measures", result.reference_info.measures if result.reference_info else None),
        ("test block as_of", f"{block.get('first_as_of')} .. {block.get('last_as_of')}"),
        (
            "rows / clients / snapshot dates",
            f"{block.get('rows')} / {block.get('clients')} / {block.get('as_of_dates')}",
        ),
        (
            "calls per snapshot (calls per week x weekly lists to the next snapshot)",
            f"{_plain(block.get('calls_per_snapshot'))} = {block.get('capacity_per_week')}"
            f" x {_plain(block.get('weeks_per_snapshot'))}",
        ),
        (
            "call-list ranking (serving.ranking), re-call gap",
            f"{block.get('ranking')}, {block.get('recall_after_days')} days",
        ),
    ]
    return _table(["", "value"], [[k, v] for k, v in items])


def calibration_html(result: Evaluation) -> str:
    rows = [[r.decile, r.mean_predicted, r.observed_rate, r.count] for r in result.calibration]
    return _table(["decile", "mean predicted", "observed rate", "clients"], rows)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}"/></figure>'
    )


CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
td:first-child,th:first-child{text-align:left}
img{max-width:520px;margin:4px}figure{display:inline-block;margin:0}"""


def report_html(
    result: Evaluation, images: list[Path], title: str = "Churn model: test-block evaluation"
) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        "<p>Held-out test block (later in time than training and validation). The rule is the "
        "documented contact-necessity index (where the source has its inputs); the baseline "
        "a one-hot logistic regression on the model's own signals; the reference is the true "
        "probability of churning within the label horizon given the generator's whole state "
        "at as_of (Monte Carlo over the hidden future), the ceiling of any model up to noise. "
        "Capacity figures replay the served weekly call list (calls per week, the call "
        "list's ranking; expected loss = probability x monthly fee x horizon months, RUB "
        "over the horizon). Lift shares tied scores fractionally at its cut-off.</p>"
        f"<h2>Summary</h2>{summary_html(result)}"
        f"<h2>Metrics</h2>{metrics_html(result)}"
        f"<h2>Calibration by decile</h2>{calibration_html(result)}"
        f"<h2>Plots</h2>{''.join(_img(p) for p in images)}"
        "</body></html>"
    )


def write_plots_and_report(
    eval_result: Evaluation,
    y: np.ndarray,
    scores: dict[str, np.ndarray | None],
    out_dir: Path,
    model: ChurnModel | None,
    X_sample: pd.DataFrame | None,
) -> list[Path]:
    """roc/pr/calibration/lift/shap_summary PNGs and report.html in ``out_dir``; returns paths."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    y = np.asarray(y, dtype=float)
    present = _present(scores)
    images = [
        _save(out_dir / "roc.png", lambda ax: plot_roc(ax, y, present, eval_result)),
        _save(out_dir / "pr.png", lambda ax: plot_pr(ax, y, present, eval_result)),
        _save(out_dir / "calibration.png", lambda ax: plot_calibration(ax, eval_result)),
        _save(out_dir / "lift.png", lambda ax: plot_gains(ax, y, present, eval_result)),
    ]
    if model is not None and X_sample is not None and len(X_sample):
        try:
            images.append(shap_summary(out_dir / "shap_summary.png", model, X_sample))
        except Exception as exc:  # a plot must never sink a training run
            log.warning("SHAP summary skipped: %s", exc)
    report = out_dir / "report.html"
    report.write_text(report_html(eval_result, images), encoding="utf-8")
    return [*images, report]

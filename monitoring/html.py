"""The monitoring report as one self-contained HTML page (no scripts, no network).

Evidently's ``Report([DataDriftPreset()])`` was the first choice for this page, but its
newest release (0.7.23) does not import with pandas 3: ``evidently.legacy.tests`` imports
``pandas.core.dtypes.common.infer_dtype_from_object``, which pandas 3 removed (ImportError
at ``import evidently``). The page is therefore written here from the JSON report, so the
two can never disagree.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

BAND_COLOURS = {"stable": "#e6f4ea", "moderate": "#fff4ce", "significant": "#fde2e1"}
PAGE = "index.html"


def _num(value: Any, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def _cell(text: str, band: str | None = None) -> str:
    style = f' style="background:{BAND_COLOURS[band]}"' if band in BAND_COLOURS else ""
    return f"<td{style}>{escape(text)}</td>"


def _drift_html(drift: dict[str, Any]) -> str:
    score = drift["score"]
    parts = [
        "<table><tr><th>what</th><th>PSI</th><th>band</th><th>reference</th><th>current</th></tr>",
        "<tr>"
        + _cell("score (probability)")
        + _cell(_num(score["psi"]), score["band"])
        + _cell(score["band"], score["band"])
        + _cell(f"mean {_num(score['reference_mean'])} (v{score['reference_version']})")
        + _cell(f"mean {_num(score['current_mean'])}")
        + "</tr>",
    ]
    for row in drift.get("features") or []:
        parts.append(
            "<tr>"
            + _cell(f"{row['feature']} ({row['kind']})")
            + _cell(_num(row["psi"]), row["band"])
            + _cell(row["band"], row["band"])
            + _cell(f"missing {row['reference_missing']:.1%}, {row['reference_rows']} rows")
            + _cell(f"missing {row['current_missing']:.1%}, {row['current_rows']} rows")
            + "</tr>"
        )
    parts.append("</table>")
    if drift.get("snapshot_error"):
        parts.append(f"<p class=warn>{escape(drift['snapshot_error'])}</p>")
    return "\n".join(parts)


def _group_rows(name: str, rows: list[dict[str, Any]]) -> str:
    return "".join(
        "<tr>"
        + _cell(f"{name} = {r['value']}")
        + _cell(str(r["rows"]))
        + _cell(_num(r["roc_auc"]))
        + _cell(_num(r["brier"], ".4f"))
        + _cell(_num(r["mean_probability"]))
        + _cell(_num(r["churn_rate"]))
        + "</tr>"
        for r in rows
    )


def _performance_html(perf: dict[str, Any]) -> str:
    if perf.get("status") != "matured":
        return f"<p>labels complete on {escape(perf['matures_on'])}: not judged yet.</p>"
    head = (
        "<table><tr><th>clients</th><th>rows</th><th>ROC-AUC</th><th>Brier</th>"
        "<th>mean probability</th><th>churn rate</th></tr>"
    )
    overall = _group_rows("all", [{"value": "all", **perf}])
    groups = "".join(_group_rows(name, rows) for name, rows in (perf.get("by") or {}).items())
    calib = "".join(
        "<tr>"
        + _cell(str(c["decile"]))
        + _cell(str(c["count"]))
        + _cell(_num(c["mean_predicted"]))
        + _cell(_num(c["observed_rate"]))
        + "</tr>"
        for c in perf.get("calibration") or []
    )
    citl = perf.get("calibration_in_the_large")
    return (
        f"<p>calibration-in-the-large (mean probability / churn rate): {_num(citl)}</p>"
        f"{head}{overall}{groups}</table>"
        "<h4>calibration by decile of the score</h4><table><tr><th>decile</th><th>clients</th>"
        f"<th>mean probability</th><th>churn rate</th></tr>{calib}</table>"
    )


def render(report: dict[str, Any]) -> str:
    """The page for one report."""
    champ, thr = report["champion"], report["thresholds"]
    alerts = report["alerts"]
    alert_items = "".join(
        f"<li><b>{escape(a['name'])}</b>: {escape(a['message'])}</li>" for a in alerts
    )
    sections = []
    for week in report["weeks"]:
        body = []
        if week.get("drift"):
            body.append(
                "<h3>drift against the training reference</h3>" + _drift_html(week["drift"])
            )
        if week.get("performance"):
            body.append("<h3>realised performance</h3>" + _performance_html(week["performance"]))
        title = (
            f"week {week['as_of']} (model v{week['model_version']}, {week['n_clients']} clients)"
        )
        sections.append(f"<section><h2>{escape(title)}</h2>{''.join(body)}</section>")
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.get("notes") or [])
    when = report["generated_at"] + (f" as of {report['as_of']}" if report["as_of"] else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>churn-risk monitoring</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 70em; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }}
.warn {{ color: #a50e0e; }}
</style></head><body>
<h1>churn-risk monitoring</h1>
<p>generated {escape(when)};
champion v{escape(champ["version"])}, reference {champ["reference_rows"]} training rows from
{escape(", ".join(champ["reference_as_of"]))}. PSI bands: stable &lt; {thr["moderate_psi"]:g},
moderate up to {thr["significant_psi"]:g}, significant above (alerts); realised ROC-AUC alert below
{thr["min_auc"]:g} ({thr["horizon_days"]}-day horizon); calibration alert when a matured week's
mean probability / churn rate leaves {escape(str(thr.get("calibration_band")))}.</p>
<h2>alerts</h2>{f"<ul class=warn>{alert_items}</ul>" if alerts else "<p>none</p>"}
{f"<ul>{notes}</ul>" if notes else ""}
{"".join(sections)}
</body></html>
"""


def write_html(report: dict[str, Any], folder: Path) -> Path:
    """Write ``folder/index.html``; returns its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PAGE
    path.write_text(render(report), encoding="utf-8")
    return path

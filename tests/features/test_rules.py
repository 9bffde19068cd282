"""The documented rule indicator: acceptance table, bands, sub-indicators, both engines, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from acceptance import SHARED_ACCEPTANCE_DIR, VENDORED_DIR, acceptance_file
from typer.testing import CliRunner

from churn.config import Config, load_config
from churn.errors import InputError
from cli.main import app
from features.rules import (
    CSV_FLAGS,
    add_rule_columns,
    band,
    band_series,
    contact_index_from_flags,
    format_index,
    rule_columns_frame,
    score_flags,
)

ACCEPTANCE_NAME = "contact_index_2018-09-17.csv"
ACCEPTANCE = acceptance_file(ACCEPTANCE_NAME)
runner = CliRunner()


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config()


def _expected_band(x: float) -> str:
    return "high" if x >= 0.34 else "dynamic" if x >= 0.30 else "no_threat"


# ---------------------------------------------------------------- acceptance table


def test_acceptance_table_every_row_exact(cfg: Config, tmp_path: Path) -> None:
    out = tmp_path / "scored.csv"
    result = runner.invoke(app, ["rules", "--flags", str(ACCEPTANCE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    src = pd.read_csv(ACCEPTANCE, dtype=str)
    got = pd.read_csv(out, dtype=str)
    assert len(got) == len(src) == 16
    # every input column is kept; the seed's value sits beside ours
    for col in src.columns.drop("contact_index"):
        assert got[col].tolist() == src[col].tolist()
    assert got["contact_index_expected"].tolist() == src["contact_index"].tolist()
    assert got["contact_index"].tolist() == src["contact_index"].tolist()
    expected_bands = [_expected_band(float(v)) for v in src["contact_index"]]
    assert got["rule_band"].tolist() == expected_bands
    assert set(expected_bands) == {"high", "dynamic", "no_threat"}  # all three bands exercised


def test_vendored_acceptance_copy_equals_the_source() -> None:
    source = SHARED_ACCEPTANCE_DIR / ACCEPTANCE_NAME
    if not source.exists():
        pytest.skip(f"{source} not beside this clone; the vendored copy is used")
    assert (VENDORED_DIR / ACCEPTANCE_NAME).read_bytes() == source.read_bytes()


def test_acceptance_weights_come_from_config(cfg: Config) -> None:
    src = pd.read_csv(ACCEPTANCE, dtype=str, keep_default_na=False)
    changed = cfg.rules.override(contact_index__base=0.10)
    scored = score_flags(src, changed)
    diff = scored["contact_index"].astype(float) - src["contact_index"].astype(float)
    assert np.allclose(diff, -0.10)


def test_unidentified_weights_default_zero_and_apply_when_configured(cfg: Config) -> None:
    src = pd.read_csv(ACCEPTANCE, dtype=str, keep_default_na=False).head(1)
    src["has_unreturned_acts"] = "yes"
    assert score_flags(src, cfg.rules)["contact_index"].iloc[0] == "0.20"
    changed = cfg.rules.override(contact_index__has_unreturned_acts=0.15)
    assert score_flags(src, changed)["contact_index"].iloc[0] == "0.35"


# ---------------------------------------------------------------- bands


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (0.0, "no_threat"),
        (0.20, "no_threat"),
        (0.2999, "no_threat"),
        (0.30, "dynamic"),
        (0.3399, "dynamic"),
        (0.34, "high"),
        (0.35, "high"),
        (1.0, "high"),
    ],
)
def test_band_boundaries(cfg: Config, x: float, expected: str) -> None:
    assert band(x, cfg.rules.bands) == expected


def test_float_sums_band_as_written(cfg: Config) -> None:
    b = cfg.rules.bands
    # raw float sums that land a hair off the boundary
    assert 0.7 - 0.4 < 0.30 and band(0.7 - 0.4, b) == "dynamic"
    assert band(0.20 + 0.10 + 0.05, b) == "high"
    assert 0.24 + 0.10 < 0.34 and band(0.24 + 0.10, b) == "high"
    w = cfg.rules.contact_index
    flags = pd.DataFrame({"has_overdue_debt": [True], "neither_hotline_nor_lk": [True]})
    ci = contact_index_from_flags(flags, w)
    assert ci.iloc[0] == 0.35  # base + 0.10 + 0.05, exactly the double 0.35


def test_bands_come_from_config(cfg: Config) -> None:
    b = cfg.rules.bands.override(high=0.5)
    assert band(0.45, b) == "dynamic"


# ---------------------------------------------------------------- sub-indicators and engines


def _snapshot_rows() -> pd.DataFrame:
    """Hand-built snapshot rows covering every branch; expected values written out below."""
    return pd.DataFrame(
        {
            "renewal_period_arrived": [1, 0, 0, 0, 0, 0],
            "overdue_debt_rub": [100.0, 0.0, 0.0, np.nan, 0.0, 5.0],
            "kit_updates_90d": [0, 2, 1, 0, 3, 1],
            "hotline_requests_60d": [0, 1, 0, 0, 0, 2],
            "cabinet_requests_90d": [0, 0, 1, 2, 0, 5],
            "training_norm_met": [0, 1, 1, 1, 1, 0],
            "days_since_training": [np.nan, 100.0, 730.0, 731.0, 10.0, 5.0],
            "webinars_180d": [0, 1, 2, 7, 0, 1],
        }
    )


EXPECTED = pd.DataFrame(
    {
        # 0: .2+.3+.1+.1+.05+.2; 1: .2; 2: .2; 3: .2+.1; 4: .2+.05; 5: .2+.1+.2
        "contact_index": [0.95, 0.20, 0.20, 0.30, 0.25, 0.50],
        "rule_band": ["high", "no_threat", "no_threat", "dynamic", "no_threat", "high"],
        # untrained per norm / never / 730 days still valid / 731 too old / fine / norm not met
        "training_indicator": [0.34, 0.20, 0.20, 0.34, 0.20, 0.34],
        "webinar_indicator": [0.34, 0.30, 0.20, 0.20, 0.34, 0.30],
        "cabinet_indicator": [0.34, 0.34, 0.30, 0.20, 0.34, 0.20],
    }
)


def test_rule_columns_of_a_frame(cfg: Config) -> None:
    got = rule_columns_frame(_snapshot_rows(), cfg.rules)
    pd.testing.assert_frame_equal(got, EXPECTED, check_dtype=False)
    assert got["contact_index"].dtype == "float64"
    assert got["training_indicator"].dtype == "float64"


def test_snapshot_engine_and_frame_give_the_same_columns(cfg: Config) -> None:
    """The snapshot's engine and a pandas frame run the one Ibis definition alike."""
    import ibis

    rows = _snapshot_rows()
    rows["client_id"] = range(len(rows))
    out = add_rule_columns(ibis.memtable(rows), cfg.rules)
    assert out.columns[-5:] == (
        "contact_index",
        "rule_band",
        "training_indicator",
        "webinar_indicator",
        "cabinet_indicator",
    )
    got = ibis.duckdb.connect().to_pandas(out).sort_values("client_id").reset_index(drop=True)
    frame = rule_columns_frame(rows, cfg.rules)
    for col in EXPECTED.columns:
        assert got[col].tolist() == frame[col].tolist() == EXPECTED[col].tolist(), col


def _written_out(rows: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """The seeds' definitions written out with numpy (what the one implementation must give)."""
    w, b = cfg.rules.contact_index, cfg.rules.bands
    ci = (
        w.base
        + np.where(rows["renewal_period_arrived"] == 1, w.renewal_period_arrived, 0.0)
        + np.where(rows["overdue_debt_rub"] > 0, w.has_overdue_debt, 0.0)
        + np.where(rows["kit_updates_90d"] == 0, w.no_kit_updates, 0.0)
        + np.where(
            rows["hotline_requests_60d"] + rows["cabinet_requests_90d"] == 0,
            w.neither_hotline_nor_lk,
            0.0,
        )
        + np.where(rows["training_norm_met"] == 0, w.training_norm_not_met, 0.0)
    ).round(6)
    days = rows["days_since_training"]
    untrained = (rows["training_norm_met"] == 0) | days.isna() | (days > 730)

    def scale(n: pd.Series) -> np.ndarray:
        return np.select([n == 0, n == 1], [b.high, b.dynamic], default=b.no_threat)

    return pd.DataFrame(
        {
            "contact_index": ci,
            "rule_band": [_expected_band(x) for x in ci],
            "training_indicator": np.where(untrained, b.high, b.no_threat),
            "webinar_indicator": scale(rows["webinars_180d"]),
            "cabinet_indicator": scale(rows["cabinet_requests_90d"]),
        }
    )


def test_rule_columns_on_random_rows_match_the_written_out_definition(cfg: Config) -> None:
    rng = np.random.default_rng(3)
    n = 400
    rows = pd.DataFrame(
        {
            "renewal_period_arrived": rng.integers(0, 2, n),
            "overdue_debt_rub": np.where(rng.random(n) < 0.7, 0.0, rng.random(n) * 1e4),
            "kit_updates_90d": rng.integers(0, 3, n),
            "hotline_requests_60d": rng.integers(0, 2, n),
            "cabinet_requests_90d": rng.integers(0, 3, n),
            "training_norm_met": rng.integers(0, 2, n),
            "days_since_training": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 1500, n)),
            "webinars_180d": rng.integers(0, 4, n),
        }
    )
    got = rule_columns_frame(rows, cfg.rules)
    want = _written_out(rows, cfg)
    for col in want.columns:
        assert got[col].tolist() == want[col].tolist(), col
    assert set(want["rule_band"]) == {"high", "dynamic", "no_threat"}


def test_every_flag_combination_reproduces_exactly(cfg: Config) -> None:
    """All 2^7 yes/no combinations of the seed's table through ``churn rules``' path."""
    import itertools

    combos = list(itertools.product(["yes", "no"], repeat=len(CSV_FLAGS)))
    src = pd.DataFrame(combos, columns=list(CSV_FLAGS))
    changed = cfg.rules.override(  # every weight counts, none is 0
        contact_index__has_unreturned_acts=0.07, contact_index__systems_use=0.11
    )
    for rules in (cfg.rules, changed):
        got = score_flags(src, rules)
        w = rules.contact_index
        for i, row in src.iterrows():
            x = w.base
            for col, (flag, positive) in CSV_FLAGS.items():
                if (row[col] == "yes") == positive:
                    x += getattr(w, flag)
            assert got["contact_index"].iloc[i] == format_index(round(x, 6)), dict(row)
            assert got["rule_band"].iloc[i] == band(x, rules.bands), dict(row)


@pytest.mark.parametrize("x", [0.0, 0.2, 0.2999999, 0.3, 0.3000001, 0.3399999, 0.34, 0.35, 1.0])
def test_scalar_band_equals_the_expression(cfg: Config, x: float) -> None:
    got = band_series(pd.Series([x, 0.7 - 0.4, 0.24 + 0.10]), cfg.rules.bands).tolist()
    assert got == [band(x, cfg.rules.bands), band(0.7 - 0.4, cfg.rules.bands), "high"]


def test_snapshot_missing_column_named(cfg: Config) -> None:
    with pytest.raises(InputError, match="webinars_180d"):
        rule_columns_frame(_snapshot_rows().drop(columns="webinars_180d"), cfg.rules)


# ---------------------------------------------------------------- bad input to the CLI


def _write_flags(tmp_path: Path, edit) -> Path:  # noqa: ANN001
    df = pd.read_csv(ACCEPTANCE, dtype=str, keep_default_na=False)
    df = edit(df)
    path = tmp_path / "flags.csv"
    df.to_csv(path, index=False)
    return path


def _run(flags: Path, tmp_path: Path):  # noqa: ANN202
    return runner.invoke(app, ["rules", "--flags", str(flags), "--out", str(tmp_path / "o.csv")])


@pytest.mark.parametrize("column", list(CSV_FLAGS))
def test_cli_missing_column(tmp_path: Path, column: str) -> None:
    res = _run(_write_flags(tmp_path, lambda d: d.drop(columns=column)), tmp_path)
    assert res.exit_code != 0
    assert column in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "o.csv").exists()


def test_cli_value_not_yes_no_names_column_and_row(tmp_path: Path) -> None:
    def edit(d: pd.DataFrame) -> pd.DataFrame:
        d.loc[4, "kit_updates"] = "maybe"
        return d

    res = _run(_write_flags(tmp_path, edit), tmp_path)
    assert res.exit_code != 0
    assert "kit_updates" in res.output
    assert "line 6" in res.output and "15627" in res.output  # header is line 1
    assert "maybe" in res.output


def test_cli_yes_no_case_and_whitespace_insensitive(tmp_path: Path) -> None:
    def edit(d: pd.DataFrame) -> pd.DataFrame:
        d["kit_updates"] = d["kit_updates"].str.upper().radd(" ")
        return d

    res = _run(_write_flags(tmp_path, edit), tmp_path)
    assert res.exit_code == 0, res.output
    got = pd.read_csv(tmp_path / "o.csv", dtype=str)
    assert got["contact_index"].tolist() == got["contact_index_expected"].tolist()


def test_cli_empty_cell_is_an_error(tmp_path: Path) -> None:
    def edit(d: pd.DataFrame) -> pd.DataFrame:
        d.loc[0, "training_norm_met"] = ""
        return d

    res = _run(_write_flags(tmp_path, edit), tmp_path)
    assert res.exit_code != 0 and "training_norm_met" in res.output and "line 2" in res.output


@pytest.mark.parametrize("content", ["", ",".join(CSV_FLAGS) + "\n"])
def test_cli_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "flags.csv"
    path.write_text(content)
    res = _run(path, tmp_path)
    assert res.exit_code != 0
    assert "empty" in res.output or "no rows" in res.output
    assert "Traceback" not in res.output


def test_cli_missing_file(tmp_path: Path) -> None:
    res = _run(tmp_path / "nope.csv", tmp_path)
    assert res.exit_code != 0 and "nope.csv" in res.output


def test_ibis_columns_are_double_when_written_through_sql(cfg: Config, tmp_path: Path) -> None:
    """The feature layer writes with DuckDB SQL: float literals must not become DECIMAL."""
    import ibis
    import pyarrow.parquet as pq

    con = ibis.duckdb.connect()
    out = tmp_path / "rules.parquet"
    con.to_parquet(add_rule_columns(ibis.memtable(_snapshot_rows()), cfg.rules), out)
    schema = pq.read_schema(out)
    for col in ("contact_index", "training_indicator", "webinar_indicator", "cabinet_indicator"):
        assert str(schema.field(col).type) == "double", col
    got = pd.read_parquet(out)
    for col in EXPECTED.columns:
        assert got[col].tolist() == EXPECTED[col].tolist(), col


# ---------------------------------------------------------------- where it exists


def test_the_rule_exists_only_where_the_spec_declares_its_columns() -> None:
    """One decision (``available``) and one sentence per language (the reasons files)."""
    from rule_free_helpers import SAID, rule_free_spec

    from features.rules import available, status
    from features.spec import load_spec

    cfg = load_config()
    centre = load_spec(cfg.features.signals)
    assert available(centre) and status(cfg, centre).to_dict() == {
        "available": True,
        "reason": None,
    }
    bare = rule_free_spec()
    assert not available(bare)
    said = status(cfg, bare)
    assert said.to_dict() == {"available": False, "reason": SAID}
    assert said.note("ru") == SAID["ru"] and said.note("xx") == SAID["en"]
    # one rule column short is no rule: the page shows the sub-indicators beside the index
    partial = bare.model_copy(
        update={"signals": (*bare.signals, *(s for s in centre.signals if s.name == "rule_band"))}
    )
    assert "rule_band" in partial.names and not available(partial)


def test_the_configured_spec_decides_by_default(rule_free) -> None:
    from features.rules import available

    assert not available()  # features.catalog.SPEC is the rule-free spec in this test

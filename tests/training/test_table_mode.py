"""``churn train --table``: any flat client table, nested CV, baseline, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.config import Config
from churn.errors import InputError
from cli.main import app
from features.catalog import CATEGORICAL_FEATURES, MODEL_FEATURES
from training.table_io import infer_column
from training.table_mode import run_table_mode

REPORT_KEYS = {
    "cv_roc_auc",
    "cv_roc_auc_std",
    "baseline_cv_roc_auc",
    "baseline_cv_roc_auc_std",
    "rows",
    "features",
    "positives",
    "fold_roc_auc",
    "baseline_fold_roc_auc",
    "best_params",
}


@pytest.fixture
def quick(base_config: Config) -> Config:
    """A small tuning budget: a few trials per fold, short early stopping."""
    return base_config.override(
        training__table_trials=3,
        training__table_timeout_s=45,
        training__table_early_stopping_rounds=30,
        training__max_boost_rounds=300,
        training__early_stopping_rounds=20,
    )


def _as_messy_text(values: pd.Series, rng: np.random.Generator) -> pd.Series:
    """Numbers the way a spreadsheet export writes them: '1 234,5', blanks, spaces."""
    text = values.map(lambda v: f"{v:,.1f}".replace(",", " ").replace(".", ","))
    blank = rng.random(len(values)) < 0.1
    return text.where(~blank, rng.choice(["", " "], len(values)))


@pytest.fixture(scope="module")
def generated_table(
    small_snapshots: Path, small_raw: Path, base_config: Config, tmp_path_factory
) -> tuple[Path, pd.DataFrame]:
    """The latest labelled snapshot of the generated base, as a messy CSV export."""
    from training.labels import data_end_of, label_snapshots, read_churn_events

    snaps = pd.read_parquet(small_snapshots)
    labelled = label_snapshots(
        snaps,
        read_churn_events(small_raw),
        base_config.training.horizon_days,
        data_end_of(small_raw),
    )
    latest = labelled[labelled["as_of"] == labelled["as_of"].max()]
    table = latest[["client_id", *MODEL_FEATURES]].copy()
    table["churned"] = np.where(latest["label"] == 1, "yes", "no")
    rng = np.random.default_rng(0)
    table["monthly_fee_rub"] = _as_messy_text(table["monthly_fee_rub"].astype(float), rng)
    path = tmp_path_factory.mktemp("table") / "clients.csv"
    table.to_csv(path, index=False, sep=";")
    return path, table


def test_generated_table_end_to_end(generated_table, quick: Config, tmp_path: Path) -> None:
    path, table = generated_table
    report_path = tmp_path / "out" / "table.json"
    report = run_table_mode(
        quick,
        table=path,
        target="churned",
        positive=None,
        id_col="client_id",
        cv=3,
        report=report_path,
    )
    assert json.loads(report_path.read_text()) == report
    assert set(report) >= REPORT_KEYS
    assert report["rows"] == len(table)
    assert report["positives"] == int((table["churned"] == "yes").sum())
    assert report["positive"] == "yes"
    # every model feature is used unless it is constant in this snapshot
    constant = [c for c, why in report["dropped_columns"].items() if why == "constant"]
    assert report["features"] == len(MODEL_FEATURES) - len(constant)
    assert "client_id" not in report["numeric_features"] + report["categorical_features"]
    assert "monthly_fee_rub" in report["numeric_features"]  # '1 234,5' and blanks parsed
    used_cats = [c for c in CATEGORICAL_FEATURES if c not in constant]
    assert sorted(report["categorical_features"]) == sorted(used_cats)
    assert len(report["fold_roc_auc"]) == 3 and len(report["best_params"]) == 3
    assert 0.5 < report["cv_roc_auc"] <= 1 and 0.5 < report["baseline_cv_roc_auc"] <= 1
    assert report["cv_roc_auc_std"] >= 0


def _interaction_table(path: Path, n: int = 1500, seed: int = 1) -> Path:
    """Churn driven by an XOR-like interaction a linear model cannot represent."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    plan = rng.choice(["basic", "pro", "max"], n)
    logit = 2.5 * np.sign(a) * np.sign(b) + 0.8 * (plan == "basic") - 1.0
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "a": a.round(4).astype(str),
            "b": b,
            "plan": plan,
            "noise": rng.normal(size=n),
            "same_for_all": "x",
            "left": y.astype(int),
        }
    )
    frame.loc[rng.random(n) < 0.05, "a"] = ""
    frame.to_csv(path, index=False)
    return path


def test_tuned_model_beats_baseline_on_nonlinear_signal(quick: Config, tmp_path: Path) -> None:
    path = _interaction_table(tmp_path / "xor.csv")
    report = run_table_mode(
        quick, table=path, target="left", positive=None, id_col="id", cv=3, report=None
    )
    assert report["positive"] == "1"
    assert report["features"] == 4  # a, b, plan, noise; id and the constant column dropped
    assert report["dropped_columns"] == {"id": "id column", "same_for_all": "constant"}
    assert report["cv_roc_auc"] > report["baseline_cv_roc_auc"] + 0.1
    assert report["model_beats_baseline_folds"] == 3


def test_numeric_text_inference() -> None:
    column = infer_column(pd.Series(["12.5", "", " ", "1 234.5", "1,234.5", "-3", "NA"]))
    assert column.kind == "numeric" and column.note is None
    values = column.values
    assert values.tolist()[0] == 12.5 and values.tolist()[3:6] == [1234.5, 1234.5, -3.0]
    assert values.isna().tolist() == [False, True, True, False, False, False, True]
    column = infer_column(pd.Series(["gold", "12", ""]))
    assert column.kind == "categorical" and column.values.isna().tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # decimal comma, point or space between thousands: "1.234,5" is 1234.5, not 1.2345
        (["1.234,5", "12,5", "7", "1 000 000,25", "0,125"], [1234.5, 12.5, 7, 1000000.25, 0.125]),
        # decimal point, comma between thousands: "15,000" is 15000, not 15.0
        (["15,000", "1,234.5", "3", "2,500,000", ".5"], [15000, 1234.5, 3, 2500000, 0.5]),
        # "1,234" is ambiguous alone; "1,5" in the same column makes it a decimal comma
        (["1,5", "1,234", "-2"], [1.5, 1.234, -2]),
        # "1.234" is ambiguous alone; "2.5" makes the column decimal-point
        (["2.5", "1.234"], [2.5, 1.234]),
        (["1e3", "2,5E-1"], [1000, 0.25]),
    ],
)
def test_number_format_is_decided_per_column(cells: list[str], expected: list[float]) -> None:
    column = infer_column(pd.Series(cells), "fee")
    assert column.kind == "numeric" and column.note is None
    assert column.values.tolist() == pytest.approx(expected)


def test_ambiguous_column_reads_thousands_and_says_so() -> None:
    column = infer_column(pd.Series(["1,234", "15,000", "7", ""]), "fee")
    assert column.values.tolist()[:3] == [1234.0, 15000.0, 7.0]
    assert column.note is not None and "fee" in column.note and "thousands" in column.note
    column = infer_column(pd.Series(["1.234", "2.000"]), "fee")
    assert column.values.tolist() == [1234.0, 2000.0] and "thousands" in column.note


@pytest.mark.parametrize(
    "cells",
    [["12,5", "1,234.5"], ["1.234,5", "2.5"], ["1,234", "5.678"]],
)
def test_mixed_number_formats_are_an_error_naming_the_column(cells: list[str]) -> None:
    with pytest.raises(InputError, match=r"column fee: .*one number format"):
        infer_column(pd.Series(cells), "fee")


def test_text_with_numbers_in_it_stays_text() -> None:
    column = infer_column(pd.Series(["1.2.3", "12,5", "v2"]), "version")
    assert column.kind == "categorical"


def _flag_table(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n).round(3),
            "answer": rng.choice(["да", "нет"], n),
            "left": rng.choice(["да", "нет"], n),
        }
    )


def test_utf8_file_whose_64k_cut_splits_a_letter_stays_utf8(tmp_path: Path) -> None:
    from training.table_io import prepare_table, read_table

    frame = _flag_table(8000)
    text = frame.to_csv(index=False, sep=";")
    data = text.encode("utf-8")
    # pad the first line so that byte 65 536 falls inside a two-byte Cyrillic letter
    for pad in range(40):
        candidate = ("x" + " " * pad + text[1:]).encode("utf-8")
        if (candidate[65535] & 0xC0) == 0xC0 and (candidate[65536] & 0xC0) == 0x80:
            data = candidate
            break
    assert (data[65536] & 0xC0) == 0x80, "test set-up: the cut must split a letter"
    with pytest.raises(UnicodeDecodeError):
        data[:65536].decode("utf-8")  # what the old prefix sniffing saw
    path = tmp_path / "utf8.csv"
    path.write_bytes(data)
    read = read_table(path)
    assert set(read["answer"]) == {"да", "нет"} and len(read) == len(frame)
    table = prepare_table(read, target="left", positive="да", id_col=None, max_category_share=0.5)
    assert table.y.sum() == (frame["left"] == "да").sum()
    assert table.X["answer"].cat.categories.tolist() == ["да", "нет"]


def test_cp1251_file_is_read_as_cp1251(tmp_path: Path) -> None:
    from training.table_io import read_table

    path = tmp_path / "cp1251.csv"
    path.write_bytes(_flag_table().to_csv(index=False, sep=";").encode("cp1251"))
    assert set(read_table(path)["answer"]) == {"да", "нет"}


def test_integer_column_unique_per_row_is_dropped_as_an_id(tmp_path: Path) -> None:
    from training.table_io import prepare_table, read_table

    frame = _flag_table()
    frame.insert(0, "contract_no", np.random.default_rng(1).permutation(len(frame)) + 10_000)
    frame["users"] = np.arange(len(frame)) // 2  # whole numbers with repeats: a feature
    frame["score"] = np.linspace(0, 1, len(frame))  # unique but not whole: a feature
    path = tmp_path / "ids.csv"
    frame.to_csv(path, index=False)
    table = prepare_table(
        read_table(path), target="left", positive="да", id_col=None, max_category_share=0.5
    )
    assert "contract_no" in table.dropped and "id" in table.dropped["contract_no"]
    assert "contract_no" not in table.X.columns
    assert {"users", "score", "x"} <= set(table.numeric)


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame(
        {
            "cid": np.arange(n),
            "x": rng.normal(size=n),
            "status": rng.choice(["active", "left", "paused"], n),
            "flag": rng.choice(["yes", "no"], n),
            "same": ["only"] * n,
        }
    )
    frame["x2"] = frame["cid"] // 2  # an id column with every id on two rows
    path = tmp_path / "small.csv"
    frame.to_csv(path, index=False)
    frame.assign(empty_col=" ").to_csv(tmp_path / "with_empty.csv", index=False)
    return path


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["train", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--table", "{dir}/nope.csv", "--target", "flag"], "nope.csv"),
        (["--table", "{csv}"], "--target"),
        (["--table", "{csv}", "--target", "churn"], "churn"),
        (["--table", "{csv}", "--target", "same"], "one class"),
        (["--table", "{csv}", "--target", "status"], "--positive"),
        (["--table", "{csv}", "--target", "status", "--positive", "gone"], "'paused'"),
        (["--table", "{csv}", "--target", "flag", "--id", "client"], "client"),
        (["--table", "{dir}/with_empty.csv", "--target", "flag", "--id", "cid"], "empty_col"),
        (["--table", "{csv}", "--target", "flag", "--cv", "1"], "--cv"),
        (["--table", "{csv}", "--target", "flag", "--id", "x2"], "one row per client"),
        (["--table", "{csv}", "--target", "flag", "--cv", "500"], "rarer target class"),
        (["--table", "{dir}/empty.csv", "--target", "flag"], "empty"),
        (["--table", "{dir}/broken.parquet", "--target", "flag"], "broken.parquet"),
    ],
)
def test_bad_input_is_a_one_line_error(
    args: list[str], needle: str, small_csv: Path, tmp_path: Path
) -> None:
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "broken.parquet").write_bytes(b"this is not parquet")
    filled = [a.format(csv=small_csv, dir=tmp_path) for a in args]
    code, output = _cli(*filled)
    assert code != 0
    assert "error:" in output and needle in output
    assert "Traceback" not in output


def test_all_nan_column_named_in_input_error(small_csv: Path, quick: Config) -> None:
    with pytest.raises(InputError, match="empty_col"):
        run_table_mode(
            quick,
            table=small_csv.parent / "with_empty.csv",
            target="flag",
            positive="yes",
            id_col="cid",
            cv=2,
            report=None,
        )


def test_parquet_types_and_boolean_target(tmp_path: Path) -> None:
    from training.table_io import prepare_table, read_table

    n = 40
    frame = pd.DataFrame(
        {
            "fee": pd.array([1500.0, None, 900.0, 1200.0] * (n // 4), dtype="Float64"),
            "plan": pd.Categorical(["basic", "pro"] * (n // 2)),
            "note": pd.array(["12,5", None, " 7 "] * (n // 3) + ["1"] * (n % 3), dtype="str"),
            "signed": pd.Timestamp("2024-01-01", tz="UTC"),
            "left": [True, False, False, True] * (n // 4),
        }
    )
    path = tmp_path / "clients.parquet"
    frame.to_parquet(path, index=False)
    table = prepare_table(
        read_table(path), target="left", positive=None, id_col=None, max_category_share=0.5
    )
    assert table.positive == "true" and table.y.tolist() == frame["left"].astype(int).tolist()
    assert sorted(table.numeric) == ["fee", "note"] and table.categorical == ["plan"]
    assert table.X["note"].iloc[:3].tolist()[0] == 12.5 and np.isnan(table.X["note"].iloc[1])
    assert table.X["plan"].dtype == "category" and table.X["fee"].dtype == "float64"
    assert "signed" in table.dropped

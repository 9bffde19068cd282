"""Finding a client of the served week by id or by part of its name."""

from __future__ import annotations

import pandas as pd

from serving.find import find_clients


def _week(names: list[str | None], ids: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {"name": pd.array(names, dtype="str")}, index=pd.Index(ids, name="client_id")
    )


def test_part_of_a_name_any_case_and_the_exact_id_first() -> None:
    week = _week(['ООО "Строй Дом Крым 2012"', "ИП Туболец Галина", None, 'АО "Крымстрой"'],
                 [11123, 25022, 7, 16027])  # fmt: skip
    assert [c["client_id"] for c in find_clients(week, "крым", 10)] == [11123, 16027]
    assert [c["client_id"] for c in find_clients(week, "СТРОЙ", 10)] == [11123, 16027]
    assert find_clients(week, "7", 10) == [{"client_id": 7, "name": None}]
    assert find_clients(week, "Рога и копыта", 10) == []
    named = find_clients(week, "2012", 10)  # digits: an id or a part of a name
    assert named == [{"client_id": 11123, "name": 'ООО "Строй Дом Крым 2012"'}]
    assert len(find_clients(week, "о", 1)) == 1


def test_an_export_without_names_finds_by_id_only() -> None:
    week = pd.DataFrame({"segment": ["large", "large"]}, index=pd.Index([5, 50], name="client_id"))
    assert find_clients(week, "5", 10) == [{"client_id": 5, "name": None}]
    assert find_clients(week, "строй", 10) == []

"""Client names as a centre's CRM shows them: firms (ООО "…", АО "…"), sole traders, notaries
and lawyers ("ИП Туболец Галина Алексеевна", seed 004).

Drawn from their own random stream (seeded by the base's seed and a fixed tag) after
everything else, so a base with names has the same clients, events and churn as the one
without; names are an id column for people, never a model input.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NAME_STREAM = 0x4E414D45  # tags the names' seed
FIRM_FORMS = ("ООО", "АО", "ООО", "ООО", "КТ")
PERSON_FORMS = ("ИП", "Нотариус", "Адвокат", "Физическое лицо")
FIRM_WORDS = (
    "Строй", "Дом", "Крым", "Транс", "Сервис", "Юг", "Техно", "Гарант", "Инвест", "Альфа",
    "Тандем", "Модерн", "Олимп", "Меридиан", "Вектор", "Доксервис", "Рострейд", "Спец",
    "Переработка", "Системс", "Амулет", "Консалт", "Капитал", "Торг", "Агро", "Мед",
)  # fmt: skip
SURNAMES = (
    "Иванов", "Кириленко", "Харманский", "Боровской", "Туболец", "Ткачук", "Тимофеев",
    "Самарский", "Шмаков", "Литвинов", "Шибанов", "Петров", "Сидоренко", "Ковальчук",
)  # fmt: skip
FIRST = ("Алина", "Дина", "Елена", "Галина", "Александр", "Вадим", "Борис", "Анастасия")
PATRONYMIC = ("Петровна", "Александровна", "Анатольевна", "Алексеевна", "Юрьевич", "Сергеевна")


def client_names(n: int, seed: int) -> pa.Array:
    """``n`` names, about one in three a person (vectorised: Arrow string kernels)."""
    rng = np.random.Generator(np.random.PCG64([seed, NAME_STREAM]))
    person = rng.random(n) < 0.35

    def pick(options: tuple[str, ...]) -> pa.Array:
        return pa.array(np.asarray(options, dtype=object)[rng.integers(0, len(options), n)])

    firm = pc.binary_join_element_wise(
        pick(FIRM_FORMS),
        pc.binary_join_element_wise('"', pick(FIRM_WORDS), pick(FIRM_WORDS), '"', ""),
        " ",
    )
    who = pc.binary_join_element_wise(
        pick(PERSON_FORMS), pick(SURNAMES), pick(FIRST), pick(PATRONYMIC), " "
    )
    return pc.if_else(pa.array(person), who, firm)

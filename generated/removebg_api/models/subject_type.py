from typing import Literal

SubjectType = Literal[
    "animal", "auto", "car", "graphic", "person", "product", "transportation"
]

SUBJECT_TYPE_VALUES: set[SubjectType] = {
    "animal",
    "auto",
    "car",
    "graphic",
    "person",
    "product",
    "transportation",
}


def check_subject_type(value: str) -> SubjectType:
    if value in SUBJECT_TYPE_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {SUBJECT_TYPE_VALUES!r}"
    )

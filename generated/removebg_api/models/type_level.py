from typing import Literal

TypeLevel = Literal["1", "2", "latest", "none"]

TYPE_LEVEL_VALUES: set[TypeLevel] = {
    "1",
    "2",
    "latest",
    "none",
}


def check_type_level(value: str) -> TypeLevel:
    if value in TYPE_LEVEL_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {TYPE_LEVEL_VALUES!r}"
    )

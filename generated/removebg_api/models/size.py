from typing import Literal

Size = Literal[
    "4k", "50MP", "auto", "full", "hd", "medium", "preview", "regular", "small"
]

SIZE_VALUES: set[Size] = {
    "4k",
    "50MP",
    "auto",
    "full",
    "hd",
    "medium",
    "preview",
    "regular",
    "small",
}


def check_size(value: str) -> Size:
    if value in SIZE_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {SIZE_VALUES!r}")

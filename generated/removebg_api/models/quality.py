from typing import Literal

Quality = Literal["balanced", "best", "fast"]

QUALITY_VALUES: set[Quality] = {
    "balanced",
    "best",
    "fast",
}


def check_quality(value: str) -> Quality:
    if value in QUALITY_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {QUALITY_VALUES!r}")

from typing import Literal

Format = Literal["auto", "jpg", "png", "webp", "zip"]

FORMAT_VALUES: set[Format] = {
    "auto",
    "jpg",
    "png",
    "webp",
    "zip",
}


def check_format(value: str) -> Format:
    if value in FORMAT_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {FORMAT_VALUES!r}")

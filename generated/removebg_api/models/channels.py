from typing import Literal

Channels = Literal["alpha", "rgba"]

CHANNELS_VALUES: set[Channels] = {
    "alpha",
    "rgba",
}


def check_channels(value: str) -> Channels:
    if value in CHANNELS_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {CHANNELS_VALUES!r}")

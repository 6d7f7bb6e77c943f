from typing import Literal

ShadowOpacityAuto = Literal["auto"]

SHADOW_OPACITY_AUTO_VALUES: set[ShadowOpacityAuto] = {
    "auto",
}


def check_shadow_opacity_auto(value: str) -> ShadowOpacityAuto:
    if value in SHADOW_OPACITY_AUTO_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {SHADOW_OPACITY_AUTO_VALUES!r}"
    )

from typing import Literal

OpenbgForcedStatus = Literal[429, 500, 503]

OPENBG_FORCED_STATUS_VALUES: set[OpenbgForcedStatus] = {
    429,
    500,
    503,
}


def check_openbg_forced_status(value: int) -> OpenbgForcedStatus:
    if value in OPENBG_FORCED_STATUS_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {OPENBG_FORCED_STATUS_VALUES!r}"
    )

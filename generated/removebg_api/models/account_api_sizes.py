from typing import Literal

AccountApiSizes = Literal["all"]

ACCOUNT_API_SIZES_VALUES: set[AccountApiSizes] = {
    "all",
}


def check_account_api_sizes(value: str) -> AccountApiSizes:
    if value in ACCOUNT_API_SIZES_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {ACCOUNT_API_SIZES_VALUES!r}"
    )

"""Contains all the data models used in inputs/outputs"""

from .account import Account
from .account_api import AccountApi
from .account_api_sizes import AccountApiSizes
from .account_attributes import AccountAttributes
from .account_credits import AccountCredits
from .account_data import AccountData
from .at_most_one_background import AtMostOneBackground
from .channels import Channels
from .error import Error
from .error_item import ErrorItem
from .form_shadow_fields import FormShadowFields
from .format_ import Format
from .improve_form import ImproveForm
from .improve_json import ImproveJson
from .improve_multipart import ImproveMultipart
from .improve_result import ImproveResult
from .one_image_source import OneImageSource
from .openbg_forced_status import OpenbgForcedStatus
from .quality import Quality
from .remove_bg_form import RemoveBgForm
from .remove_bg_json import RemoveBgJson
from .remove_bg_json_data import RemoveBgJsonData
from .remove_bg_json_response import RemoveBgJsonResponse
from .remove_bg_multipart import RemoveBgMultipart
from .remove_bg_options import RemoveBgOptions
from .shadow_opacity_auto import ShadowOpacityAuto
from .shadow_opacity_map import ShadowOpacityMap
from .shadow_type import ShadowType
from .shadow_type_map import ShadowTypeMap
from .size import Size
from .subject_type import SubjectType
from .type_level import TypeLevel

__all__ = (
    "Account",
    "AccountApi",
    "AccountApiSizes",
    "AccountAttributes",
    "AccountCredits",
    "AccountData",
    "AtMostOneBackground",
    "Channels",
    "Error",
    "ErrorItem",
    "FormShadowFields",
    "Format",
    "ImproveForm",
    "ImproveJson",
    "ImproveMultipart",
    "ImproveResult",
    "OneImageSource",
    "OpenbgForcedStatus",
    "Quality",
    "RemoveBgForm",
    "RemoveBgJson",
    "RemoveBgJsonData",
    "RemoveBgJsonResponse",
    "RemoveBgMultipart",
    "RemoveBgOptions",
    "ShadowOpacityAuto",
    "ShadowOpacityMap",
    "ShadowType",
    "ShadowTypeMap",
    "Size",
    "SubjectType",
    "TypeLevel",
)

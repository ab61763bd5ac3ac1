"""Checks that the operators' emails can be written in the language the settings name."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.compatibility)
def check_operator_language(app_configs, **kwargs):
    codes = [code for code, _ in settings.LANGUAGES]
    if settings.SHOP_OPERATOR_LANGUAGE in codes:
        return []
    return [
        Error(
            f"SHOP_OPERATOR_LANGUAGE is {settings.SHOP_OPERATOR_LANGUAGE!r}, not one of LANGUAGES "
            f"({', '.join(codes)}).",
            hint="Set it to the language the operators' emails are written in, or leave it unset for LANGUAGE_CODE.",
            id="ops.E001",
        )
    ]

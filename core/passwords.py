"""Password rules for staff accounts beyond Django's own validators."""

import re

from django.contrib.auth.password_validation import CommonPasswordValidator
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_DECORATION = re.compile(r"^[\W\d_]+|[\W\d_]+$")


class DecoratedCommonPasswordValidator(CommonPasswordValidator):
    """Refuses a common password with digits or symbols around it ("Summer2024", "Password123!"): the first
    variants a guessing list tries."""

    def validate(self, password, user=None):
        stem = _DECORATION.sub("", password.lower().strip())
        if stem and stem in self.passwords:
            raise ValidationError(
                _("This password is a common word with digits or symbols added."), code="password_too_common"
            )

    def get_help_text(self):
        return _("Your password can’t be a common word with digits or symbols added.")

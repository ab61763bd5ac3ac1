from django.core.management.commands import makemessages


class Command(makemessages.Command):
    """Django's makemessages without gettext's guesses, in msgid order. A new string stays untranslated (and fails
    the translation check) instead of inheriting a similar string's translation marked "fuzzy", which gettext would
    not use anyway; sorted entries keep a change's diff, and a merge, to the strings it touched."""

    msgmerge_options = [*makemessages.Command.msgmerge_options, "--no-fuzzy-matching", "--sort-output"]
    msguniq_options = [*makemessages.Command.msguniq_options, "--sort-output"]
    msgattrib_options = [*makemessages.Command.msgattrib_options, "--sort-output"]

"""Where private files live: a file system storage that has no URL, so nothing can link to its files."""

from django.core.files.storage import FileSystemStorage


class PrivateStorage(FileSystemStorage):
    """Files served only by views that check who asks (an invoice: its order's token, or an operator). Files
    are 0600 and the folders it creates 0700 unless OPTIONS say otherwise: other local users read nothing."""

    def __init__(self, *args, file_permissions_mode=0o600, directory_permissions_mode=0o700, **kwargs):
        super().__init__(
            *args,
            file_permissions_mode=file_permissions_mode,
            directory_permissions_mode=directory_permissions_mode,
            **kwargs,
        )

    def url(self, name):
        raise ValueError("Private files have no URL: send them through a view that checks who asks.")

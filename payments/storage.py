"""Where private files live: a file system storage that has no URL, so nothing can link to its files."""

from django.core.files.storage import FileSystemStorage


class PrivateStorage(FileSystemStorage):
    """Files served only by views that check who asks (an invoice: its order's token, or an operator)."""

    def url(self, name):
        raise ValueError("Private files have no URL: send them through a view that checks who asks.")

from django.contrib import admin

from .models import OperatorDigest


@admin.register(OperatorDigest)
class OperatorDigestAdmin(admin.ModelAdmin):
    """The operators' daily emails and how sending them went, read-only."""

    list_display = ["day", "kind", "state", "attempts", "sent_at", "last_error"]
    list_filter = ["kind", "state"]
    fields = ["kind", "day", "to", "lines", "state", "attempts", "queued_at", "sent_at", "claimed_by", "last_error"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

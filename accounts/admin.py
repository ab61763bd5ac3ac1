from django.contrib import admin

from .models import AccountEmail


@admin.register(AccountEmail)
class AccountEmailAdmin(admin.ModelAdmin):
    """The account outbox, to read: what was owed, to whom, and how sending went. Nothing secret is stored."""

    list_display = ["id", "kind", "to", "state", "attempts", "created", "sent_at"]
    list_filter = ["state", "kind"]
    search_fields = ["to"]
    readonly_fields = [field.name for field in AccountEmail._meta.fields]

    def has_add_permission(self, request):
        return False

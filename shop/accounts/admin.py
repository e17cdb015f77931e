from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.template.defaultfilters import pluralize
from django_otp_webauthn.admin import WebAuthnCredentialAdmin
from django_otp_webauthn.models import WebAuthnCredential

from shop.core import audit

from . import services
from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    readonly_fields = ["last_login", "date_joined"]
    actions = ["end_all_sessions"]

    # Ending sessions deletes UserSession rows: a manager may do that without being able to
    # change a user (which would let them hand out groups or superuser status).
    def has_end_sessions_permission(self, request):
        return request.user.has_perm("accounts.delete_usersession")

    @admin.action(description="End all sessions of the selected users", permissions=["end_sessions"])
    def end_all_sessions(self, request, queryset):
        users = list(queryset)
        ended = sum(services.end_all_sessions(user=user, actor=request.user) for user in users)
        self.message_user(
            request,
            f"Ended {ended} session{pluralize(ended)} of {len(users)} user{pluralize(len(users))}. "
            "They have to sign in again on every device.",
            messages.SUCCESS,
        )


# django-axes registers its own admin; ours makes every unlock (deleting the failure counters,
# one by one, in bulk or through the "Unlock" action) go through the audited service.
if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(AxesAccessAttemptAdmin):
    actions = ["unlock", *AxesAccessAttemptAdmin.actions]

    @admin.action(description="Unlock: clear the failed sign-ins of the selected entries", permissions=["delete"])
    def unlock(self, request, queryset):
        count = services.unlock_sign_in(attempts=list(queryset), actor=request.user)
        self.message_user(
            request,
            f"Unlocked {count} entr{pluralize(count, 'y,ies')}. Those sign-ins can be tried again at once.",
            messages.SUCCESS,
        )

    def delete_model(self, request, obj):
        services.unlock_sign_in(attempts=[obj], actor=request.user)

    def delete_queryset(self, request, queryset):
        services.unlock_sign_in(attempts=list(queryset), actor=request.user)


@admin.register(WebAuthnCredential)
class PasskeyAdmin(WebAuthnCredentialAdmin):
    """Staff with the permission delete a lost passkey here; each deletion is audited with who did it."""

    def delete_model(self, request, obj):
        self.delete_queryset(request, WebAuthnCredential.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        for passkey in queryset.select_related("user"):
            audit.record(
                "passkey.removed", actor=request.user, subject=passkey.user, data={"passkey": passkey.pk, "by": "admin"}
            )
            passkey.delete()

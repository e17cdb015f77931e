"""Staff roles are Django groups with a fixed set of permissions, kept in step at every migrate.

Later features add to these sets; a member of staff gets a role by being put in its group.
"""

from django.contrib.auth.models import Group, Permission

CLERK = "Store clerks"
COMPLIANCE = "Compliance officers"
MANAGER = "Shop managers"
WAREHOUSE = "Warehouse staff"
FRAUD = "Fraud analysts"

ROLE_PERMISSIONS = {
    # Clerks work only at the pickup desk, for their own stores (Store.staff). No view_order:
    # the Order admin lists every store's orders, and clerks must open no other admin page.
    CLERK: ["orders.use_pickup_desk"],
    # Warehouse staff pack, ship and mark delivered the paid delivery orders of their own stores
    # (Store.staff) on the dispatch desk, and open no other admin page.
    WAREHOUSE: ["orders.use_dispatch_desk"],
    COMPLIANCE: [
        "core.view_auditevent",
        "orders.view_order",
        "accounts.view_user",
        # The data-subject request queue: file on someone's behalf, run, cancel, download exports.
        "privacy.view_datarequest",
        "privacy.add_datarequest",
        "privacy.run_datarequest",
        "privacy.view_datarequestevent",
        # Read-only registers of the compliance desk (consent proof export needs only view).
        "privacy.view_consentrecord",
        "privacy.view_retentionrun",
        # The incident and breach register (GDPR Art. 33/34) and the security dashboard.
        "operations.view_incident",
        "operations.add_incident",
        "operations.change_incident",
        "operations.notify_subjects",
        "operations.view_security_dashboard",
    ],
    MANAGER: [
        "catalog.view_category",
        "catalog.add_category",
        "catalog.change_category",
        "catalog.view_product",
        "catalog.add_product",
        "catalog.change_product",
        "catalog.view_store",
        "catalog.change_store",
        "catalog.view_stock",
        "catalog.add_stock",
        "catalog.change_stock",
        "orders.view_order",
        "orders.change_order",
        "orders.use_pickup_desk",
        "orders.use_dispatch_desk",
        "orders.cancel_paid_order",
        "core.view_auditevent",
        "accounts.view_user",
        # End all sessions of a user (the User admin's action), and unlock sign-ins that
        # django-axes paused (deleting an AccessAttempt is the unlock; it is audited).
        "accounts.delete_usersession",
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        # A member of staff lost their passkey: see it and delete it (audited), so they enrol anew.
        "django_otp_webauthn.view_webauthncredential",
        "django_otp_webauthn.delete_webauthncredential",
        # Payments: read them, and refund a captured one (a custom permission on Payment).
        "payments.view_payment",
        "payments.refund_payment",
        "payments.view_refund",
        "payments.view_webhookevent",
        "payments.view_paymentmethod",
        # The first-party, aggregate page-view counts (no personal data).
        "privacy.view_pageview",
        # Security operations: read the incident register, the security dashboard.
        "operations.view_incident",
        "operations.view_security_dashboard",
    ],
    # The review desk (approve or reject held orders), the block and allow lists, the model page.
    FRAUD: [
        "risk.view_review",
        "risk.decide_review",
        "risk.view_riskassessment",
        "risk.view_listentry",
        "risk.add_listentry",
        "risk.delete_listentry",
        "risk.view_label",
        "risk.view_modelversion",
    ],
}


def sync_roles() -> None:
    """Create the role groups and set exactly their permissions (a post_migrate receiver)."""
    for name, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = [
            Permission.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in (code.split(".") for code in codes)
        ]
        group.permissions.set(permissions)

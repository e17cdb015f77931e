"""Signals other apps may count (the security dashboard); core imports none of them."""

from django.dispatch import Signal

# A browser reported a Content-Security-Policy violation (any page, audited or not).
csp_violation_reported = Signal()

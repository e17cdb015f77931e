"""Signals other apps may count (the security dashboard); accounts imports none of them."""

from django.dispatch import Signal

# A proof-of-work challenge was handed to a browser / a submitted solution was refused.
challenge_served = Signal()
challenge_failed = Signal()

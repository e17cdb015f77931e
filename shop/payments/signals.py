"""Signals other apps may count (the security dashboard); payments imports none of them."""

from django.dispatch import Signal

# A payment attempt was refused by the card-testing limit (too many declines in an hour).
card_testing_refused = Signal()

"""What orders tell other apps. Receivers live in those apps (privacy connects to order_closed);
orders imports none of them."""

from django.dispatch import Signal

# Sent after commit when an order reaches one of Order.CLOSED_STATUSES: collected, delivered,
# returned, cancelled or expired. Arguments: order_id, user_id (None for guests), status.
order_closed = Signal()

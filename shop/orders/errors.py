"""Domain errors of orders. Each carries its HTTP meaning in `status`; views never parse messages."""


class OrderError(Exception):
    """A request the shop must refuse; `str(error)` is a message for the shopper or staff."""

    status = 409


class CartError(OrderError):
    pass


class OutOfStock(OrderError):
    pass


class IllegalTransition(OrderError):
    pass


class ShareLimit(OrderError):
    """One unpaid order may not take more than SHOP_UNPAID_STOCK_SHARE_PERCENT of a store's units."""

    status = 429


class TooManyOpenOrders(OrderError):
    """Too many unpaid orders open at once: the message says what to do (pay or cancel one)."""

    status = 429


class NotFulfillable(OrderError):
    """The order may not be shipped or handed over (not paid, held, closed)."""

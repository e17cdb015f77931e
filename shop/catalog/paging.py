"""Pages of a product list without counting the whole list.

Django's Paginator runs COUNT(*) over every match to know the number of pages. Where the page
shows no total, reading one row more than a page is enough to know whether there is a next one.
"""

from dataclasses import dataclass
from functools import cached_property

from django.db.models import QuerySet

# A page number past this is refused: OFFSET makes the database read and skip every row before it.
MAX_PAGE = 500


@dataclass
class ProductPage:
    queryset: QuerySet
    number: int
    size: int

    @cached_property
    def _rows(self) -> list:
        start = (self.number - 1) * self.size
        return list(self.queryset[start : start + self.size + 1])

    @property
    def object_list(self) -> list:
        return self._rows[: self.size]

    @property
    def has_next(self) -> bool:
        return len(self._rows) > self.size

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1


def page_number(raw: str | None) -> int:
    """A page number from the query string; nonsense means the first page, never an error."""
    try:
        number = int(raw or 1)
    except ValueError:
        return 1
    return min(max(number, 1), MAX_PAGE)

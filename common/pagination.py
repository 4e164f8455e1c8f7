import functools
import hashlib
import logging

from django.core.cache import cache
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework import pagination

logger = logging.getLogger(__name__)

# Counting a long list is the one cost of a page that grows with the data (every matching row is
# read; 100,000 posts took longer to count than the page took to build, docs/learning.md). So a
# count of at least this many rows is kept for a few seconds per user and query and reused;
# shorter lists are always counted exactly.
COUNT_CACHE_MIN_ROWS = 1000
COUNT_CACHE_SECONDS = 10


class CountReusingPaginator(Paginator):
    def __init__(self, *args, count_key: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.count_key = count_key

    def page(self, number):
        """The first page is read before the count: when it is not full it holds the whole list, so
        its length is the count, exact, with no count query and no cache round trip (most
        callers' sessions, reviews and chats fit in one page). A full first page is counted (or
        its count reused) as any other page."""
        if number not in (1, "1") or self.orphans or "count" in self.__dict__:
            return super().page(number)
        rows = list(self.object_list[0 : self.per_page])
        if len(rows) < self.per_page:
            self.__dict__["count"] = len(rows)  # what the cached_property would have kept
        self.validate_number(1)  # no rows and no empty first page allowed: EmptyPage, as before
        return self._get_page(rows, 1, self)

    @cached_property
    def count(self):
        try:
            cached = cache.get(self.count_key)
        except Exception:  # the shared cache being down must not fail a list
            logger.warning("page count cache unreachable", exc_info=True)
            return Paginator.count.func(self)
        if cached is not None:
            return cached
        exact = Paginator.count.func(self)
        if exact >= COUNT_CACHE_MIN_ROWS:
            try:
                cache.set(self.count_key, exact, COUNT_CACHE_SECONDS)
            except Exception:
                logger.warning("page count cache unreachable", exc_info=True)
        return exact


def _count_key(request, page_params, *, per_user: bool) -> str:
    query = sorted((k, v) for k, v in request.query_params.lists() if k not in page_params)
    user = getattr(getattr(request, "user", None), "pk", None) if per_user else None
    raw = repr((user, request.path, query))
    return "pagecount:" + hashlib.sha256(raw.encode()).hexdigest()


class PageNumberPagination(pagination.PageNumberPagination):
    """DRF page-number pagination; `?page_size=` is honoured up to 100 (SPEC section 1).

    A first page that is not full is the whole list: its length is the count, exact, and nothing
    else is asked. Otherwise `count` of a list of COUNT_CACHE_MIN_ROWS or more may be up to
    COUNT_CACHE_SECONDS old. It is kept per caller unless the view says its list is the same
    for everyone (`count_per_user` False), so one count serves every caller of such a list.
    """

    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None):
        key = _count_key(
            request,
            {self.page_query_param, self.page_size_query_param},
            per_user=getattr(view, "count_per_user", True),
        )
        self.django_paginator_class = functools.partial(CountReusingPaginator, count_key=key)
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            return self.page_size
        if size < 1:
            return self.page_size
        return min(size, self.max_page_size)

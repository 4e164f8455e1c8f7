import functools
import hashlib
import logging

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.utils.functional import cached_property
from rest_framework import pagination

from common.renderers import RenderedOnce

logger = logging.getLogger(__name__)

# Counting a long list is the one cost of a page that grows with the data (every matching row is
# read; 100,000 posts took longer to count than the page took to build, docs/learning.md). So a
# count of at least this many rows is kept for a few seconds per user and query and reused;
# shorter lists are always counted exactly.
COUNT_CACHE_MIN_ROWS = 1000
COUNT_CACHE_SECONDS = 10


class _RowsFirstPaginator(Paginator):
    """A paginator that may read a page's rows before it knows the list's length."""

    def _page_of(self, rows: list, number: int, count: int | None):
        if count is not None:
            self.__dict__["count"] = count  # what the `count` cached_property would have kept
        self.validate_number(number)  # past the end, or an empty first page not allowed: as before
        return self._get_page(rows, number, self)


class FirstPageCountingPaginator(_RowsFirstPaginator):
    """Django's paginator, except that a first page that is not full is its own count."""

    def page(self, number):
        """The first page is read before the count: when it is not full it holds the whole list, so
        its length is the count, exact, with no count query and no cache round trip (most
        callers' sessions, reviews and chats fit in one page). A full first page is counted (or
        its count reused) as any other page."""
        if number not in (1, "1") or self.orphans or "count" in self.__dict__:
            return super().page(number)
        rows = list(self.object_list[0 : self.per_page])
        return self._page_of(rows, 1, len(rows) if len(rows) < self.per_page else None)


# The key under which each row of a CountInPagePaginator's list carries the list's length.
LIST_TOTAL = "page_list_total"
# Past this offset a page is not read rows first: no list is that long, and an OFFSET beyond a
# 64-bit integer is an error in the database, not an empty page.
MAX_ROWS_FIRST_OFFSET = 2**62


class CountInPagePaginator(_RowsFirstPaginator):
    """For a list whose every row the database reads anyway to order it (matches/, ranked by a
    computed rank): each row of the page carries the list's length under LIST_TOTAL (the list
    selects `COUNT(*) OVER ()`), so the count costs no second query that evaluates the whole
    filter again (half of matches/' work on both sides of the connection). A page past the end
    has no row to carry it: it is counted as before (the list's `count()`), and is then 404 as
    before."""

    def page(self, number):
        try:
            wanted = int(number)
        except (TypeError, ValueError):
            wanted = 0  # Django's own validation answers (PageNotAnInteger)
        bottom = (wanted - 1) * self.per_page
        if wanted < 1 or bottom > MAX_ROWS_FIRST_OFFSET or self.orphans or "count" in self.__dict__:
            # Counted first, then validated (an absurd page is 404 before any row is asked for:
            # the database could not take its OFFSET).
            return super().page(number)
        rows = list(self.object_list[bottom : bottom + self.per_page])
        if not rows:
            return super().page(number)
        first = rows[0]
        total = first[LIST_TOTAL] if isinstance(first, dict) else getattr(first, LIST_TOTAL)
        return self._page_of(rows, wanted, total)


class CountReusingPaginator(FirstPageCountingPaginator):
    def __init__(self, *args, count_key: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.count_key = count_key

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
    for everyone (`count_per_user` False), so one count serves every caller of such a list. A
    view whose list is as costly to count as to page says `count_in_page` (CountInPagePaginator).
    """

    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None, *, exact_count=False):
        if getattr(view, "count_in_page", False):
            self.django_paginator_class = CountInPagePaginator
        elif exact_count:
            self.django_paginator_class = FirstPageCountingPaginator
        else:
            key = _count_key(
                request,
                {self.page_query_param, self.page_size_query_param},
                per_user=getattr(view, "count_per_user", True),
            )
            self.django_paginator_class = functools.partial(CountReusingPaginator, count_key=key)
        return super().paginate_queryset(queryset, request, view)

    def paginate_represented(self, queryset, request, view, represent) -> list:
        """`represent(self.paginate_queryset(...))`, from the list's page cache when it has one
        (`queryset.page_cache`, a common.page_cache.PageCache) and the page is one it keeps."""
        self._kept_results = self._renderings = None
        page_cache = getattr(queryset, "page_cache", None)
        page_size = self.get_page_size(request)
        raw = request.query_params.get(self.page_query_param) or "1"
        number = int(raw) if raw.isascii() and raw.isdigit() else None
        if page_cache is None or number is None or not 1 <= number <= page_cache.pages:
            return represent(self.paginate_queryset(queryset, request, view))

        def build():
            # Counted exactly: a reused count (up to COUNT_CACHE_SECONDS old) kept with the page
            # would outlive its few seconds for as long as the page stays cached.
            results = represent(self.paginate_queryset(queryset, request, view, exact_count=True))
            # The third item: the page's renderings (common.renderers), kept and dropped with it.
            return self.page.paginator.count, results, {}

        version = getattr(queryset, "page_version", None)
        count, results, self._renderings = page_cache.get((number, page_size), build, version=version)
        self._kept_results = results
        self.request = request
        paginator = Paginator((), page_size)
        paginator.count = count  # what `count` would have computed (a cached_property)
        self.page = Page(results, number, paginator)
        return results

    def get_paginated_response(self, data):
        """DRF's paginated response; a kept page's is rendered once per pair of links (and media
        type), the only parts of its JSON that follow the request."""
        response = super().get_paginated_response(data)
        if data is getattr(self, "_kept_results", None):
            page = response.data
            key = (page["next"], page["previous"])
            response.data = RenderedOnce(page, memo=self._renderings, key=key)
        return response

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

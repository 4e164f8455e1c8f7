from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """DRF page-number pagination; `?page_size=` is honoured up to 100 (SPEC section 1)."""

    page_size_query_param = "page_size"
    max_page_size = 100

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

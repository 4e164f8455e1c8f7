"""The API's JSON renderer: DRF's, which can also reuse the bytes of data it rendered before.

Why: a page of 20 posts served from its page cache (common.page_cache) still cost a JSON
rendering per request, ~80 µs of a ~1 ms request in-process and the largest part of it left
above the floor (docs/bench.md, "Rendering a kept page once"). The page is the same for everyone
until the list changes; only the envelope's links follow the request.

How: response data may be a `RenderedOnce`, a dict that carries a `memo` (a dict its owner keeps
alive for exactly as long as the data stays the same: a page-cache entry) and a `key` saying what
else the data depends on (a page's links). The bytes are rendered by DRF's JSONRenderer the first
time and kept in the memo under that key, the renderer class and the accepted media type (which
may ask for an indent), so any request asking for the same thing gets the same bytes. Anything
else is rendered as DRF renders it.
"""

from rest_framework import renderers

# Renderings kept per memo: the key and media type come from the request (its Host and query
# string make a page's links; its Accept header may carry parameters), so without a bound a
# caller could make a memo keep a copy of the page per spelling.
MEMO_SIZE = 8


class RenderedOnce(dict):
    """Response data rendered at most once per (`key`, renderer, media type) into `memo`. The
    owner promises that equal keys with the same memo mean equal data."""

    __slots__ = ("key", "memo")

    def __init__(self, data: dict, *, memo: dict, key):
        super().__init__(data)
        self.memo, self.key = memo, key


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if type(data) is not RenderedOnce:
            return super().render(data, accepted_media_type, renderer_context)
        indent = (renderer_context or {}).get("indent")
        key = (data.key, type(self), accepted_media_type, indent)
        rendered = data.memo.get(key)
        if rendered is None:
            rendered = super().render(data, accepted_media_type, renderer_context)
            if len(data.memo) < MEMO_SIZE:  # a dict store is atomic: threads may share a memo
                data.memo[key] = rendered
        return rendered

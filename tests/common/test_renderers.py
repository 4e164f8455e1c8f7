"""common.renderers: DRF's JSON, with data marked RenderedOnce rendered once per key."""

from rest_framework import renderers as drf

from common import renderers
from common.renderers import JSONRenderer, RenderedOnce

JSON = "application/json"


def render(data, media_type=JSON) -> bytes:
    return JSONRenderer().render(data, media_type)


def test_plain_data_renders_as_drf_does():
    data = {"a": "\u2028 ✓", "b": [1, None]}
    assert render(data) == drf.JSONRenderer().render(data, JSON)


def test_rendered_once_data_is_rendered_once_per_key_and_media_type():
    memo = {}
    first = render(RenderedOnce({"a": 1}, memo=memo, key="k"))
    assert first == b'{"a":1}'
    # Same memo and key: the owner promised the same data, so the kept bytes are served.
    assert render(RenderedOnce({"a": 2}, memo=memo, key="k")) == first
    assert render(RenderedOnce({"a": 2}, memo=memo, key="other")) == b'{"a":2}'
    assert render(RenderedOnce({"a": 1}, memo=memo, key="k"), f"{JSON}; indent=2") == b'{\n  "a": 1\n}'
    assert render(RenderedOnce({"a": 1}, memo={}, key="k")) == first


def test_a_memo_keeps_at_most_memo_size_renderings(monkeypatch):
    monkeypatch.setattr(renderers, "MEMO_SIZE", 2)
    memo = {}
    for key in range(5):
        assert render(RenderedOnce({"k": key}, memo=memo, key=key)) == f'{{"k":{key}}}'.encode()
    assert len(memo) == 2
    assert render(RenderedOnce({"k": 9}, memo=memo, key=4)) == b'{"k":9}'  # not kept: rendered anew

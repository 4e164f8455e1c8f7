from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from . import selectors, services
from .serializers import (
    MatchOutputSerializer,
    PostInputSerializer,
    PostListQuerySerializer,
    PostOutputSerializer,
)


class PostViewSet(viewsets.GenericViewSet):
    """Learning posts. PUT is not offered (405): edits are partial, through PATCH."""

    lookup_value_regex = r"\d+"

    serializer_class = PostOutputSerializer

    def _page(self, queryset, serializer_class=PostOutputSerializer):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)

    def _post_response(self, post_id, status_code=status.HTTP_200_OK):
        post = selectors.post_get(post_id=post_id)
        return Response(PostOutputSerializer(post).data, status=status_code)

    @extend_schema(
        parameters=[PostListQuerySerializer],
        responses=PostOutputSerializer(many=True),
    )
    def list(self, request):
        query = PostListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        posts = selectors.posts_active(
            topic=query.validated_data.get("topic", ""), creator_id=query.validated_data.get("creator")
        )
        return self._page(posts)

    @extend_schema(request=PostInputSerializer, responses={201: PostOutputSerializer})
    def create(self, request):
        data = PostInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        post = services.post_create(creator=request.user, **data.validated_data)
        return self._post_response(post.pk, status.HTTP_201_CREATED)

    @extend_schema(responses=PostOutputSerializer)
    def retrieve(self, request, pk=None):
        return self._post_response(pk)

    @extend_schema(request=PostInputSerializer(partial=True), responses=PostOutputSerializer)
    def partial_update(self, request, pk=None):
        data = PostInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.post_update(post_id=pk, user=request.user, **data.validated_data)
        return self._post_response(pk)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.post_delete(post_id=pk, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=PostOutputSerializer)
    @action(detail=True, methods=["post", "patch"])
    def complete(self, request, pk=None):
        services.post_complete(post_id=pk, user=request.user)
        return self._post_response(pk)

    @extend_schema(responses=PostOutputSerializer(many=True))
    @action(detail=False, methods=["get"])
    def my_posts(self, request):
        return self._page(selectors.posts_of(request.user))

    @extend_schema(
        responses=MatchOutputSerializer(many=True),
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
    )
    @action(detail=False, methods=["get"])
    def matches(self, request):
        return self._page(selectors.post_matches(request.user), MatchOutputSerializer)

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.authentication import JWTAuthentication
from common.idempotency import idempotent
from common.representation import represent, represent_many
from common.schema import errors

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

    def get_authenticators(self):
        request = getattr(self, "request", None)  # None while the OpenAPI schema is built
        if request is not None and getattr(self, "action_map", {}).get(request.method.lower()) == "list":
            # The caller comes with the posts list's page version, read in the one statement
            # that loads them (learning.selectors.user_reading_posts).
            return [JWTAuthentication(loader=selectors.user_reading_posts)]
        return super().get_authenticators()

    @property
    def count_per_user(self) -> bool:
        # The page count may be shared between callers (common.pagination) only where the list
        # is the same for everyone.
        return self.action != "list"

    @property
    def count_in_page(self) -> bool:
        # Matches are ranked by a rank computed for every matching post, so the database reads
        # them all for any page anyway: the page's rows carry the count (common.pagination).
        return self.action == "matches"

    def _page(self, queryset, serializer_class=PostOutputSerializer):
        results = self.paginator.paginate_represented(
            queryset, self.request, self, lambda page: represent_many(serializer_class, page)
        )
        return self.get_paginated_response(results)

    def _post_response(self, post_id, status_code=status.HTTP_200_OK):
        post = selectors.post_get(post_id=post_id)
        return Response(represent(PostOutputSerializer, post), status=status_code)

    @extend_schema(
        parameters=[PostListQuerySerializer],
        responses=PostOutputSerializer(many=True),
    )
    def list(self, request):
        """Active posts, newest first; `topic` searches both topics, `creator` is a user id."""
        filters = {}
        if "topic" in request.query_params or "creator" in request.query_params:
            # Validated only when given: what nearly every request (the first page) skips.
            query = PostListQuerySerializer(data=request.query_params)
            query.is_valid(raise_exception=True)
            filters = query.validated_data
        posts = selectors.posts_active_for_page(
            topic=filters.get("topic", ""),
            creator_id=filters.get("creator"),
            page_version=getattr(request.user, selectors.PAGE_VERSION_ATTRIBUTE, None),
        )
        return self._page(posts)

    @idempotent
    @extend_schema(request=PostInputSerializer, responses={201: PostOutputSerializer, **errors(409)})
    def create(self, request):
        """Create a post as the caller. 409 if the caller has an active post with the same
        topic_to_learn (ignoring case)."""
        data = PostInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        post = services.post_create(creator=request.user, **data.validated_data)
        return self._post_response(post.pk, status.HTTP_201_CREATED)

    @extend_schema(responses=PostOutputSerializer)
    def retrieve(self, request, pk=None):
        """Any post by id, completed ones included."""
        return self._post_response(pk)

    @extend_schema(
        request=PostInputSerializer(partial=True), responses={200: PostOutputSerializer, **errors(403, 409)}
    )
    def partial_update(self, request, pk=None):
        """Creator only. Same rules as creating; completed posts can't be edited (409)."""
        data = PostInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.post_update(post_id=pk, user=request.user, **data.validated_data)
        return self._post_response(pk)

    @extend_schema(responses={204: None, **errors(403)})
    def destroy(self, request, pk=None):
        """Creator only. Sessions started from the post keep existing without the link."""
        services.post_delete(post_id=pk, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: PostOutputSerializer, **errors(403, 409)})
    @action(detail=True, methods=["post", "patch"])
    def complete(self, request, pk=None):
        """Creator only; 409 when already completed."""
        services.post_complete(post_id=pk, user=request.user)
        return self._post_response(pk)

    @extend_schema(responses=PostOutputSerializer(many=True))
    @action(detail=False, methods=["get"])
    def my_posts(self, request):
        """The caller's active posts, newest first."""
        return self._page(selectors.posts_of(request.user))

    @extend_schema(responses=MatchOutputSerializer(many=True))
    @action(detail=False, methods=["get"])
    def matches(self, request):
        """Other users' active posts that teach what one of my active posts wants to learn;
        two-way barters first (`is_two_way`), then newest first."""
        return self._page(selectors.post_matches(request.user), MatchOutputSerializer)

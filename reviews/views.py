from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from common.idempotency import idempotent
from common.schema import errors

from . import selectors, services
from .serializers import ReviewInputSerializer, ReviewOutputSerializer


class SessionReviewsView(generics.ListAPIView):
    """The session's reviews, for its participants (404 for anyone else)."""

    serializer_class = ReviewOutputSerializer

    def get_queryset(self):
        return selectors.reviews_of_session(session_id=self.kwargs["session_id"], user=self.request.user)

    @idempotent
    @extend_schema(request=ReviewInputSerializer, responses={201: ReviewOutputSerializer, **errors(409)})
    def post(self, request, session_id):
        """Review the other participant of a completed session, once (409 otherwise)."""
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.review_create(
            session_id=session_id,
            reviewer=request.user,
            rating=data.validated_data["rating"],
            comment=data.validated_data.get("comment", ""),
        )
        review = selectors.review_get(review_id=review.pk)
        return Response(ReviewOutputSerializer(review).data, status=status.HTTP_201_CREATED)


class UserReviewsView(generics.ListAPIView):
    """Reviews the user received, newest first."""

    serializer_class = ReviewOutputSerializer

    def get_queryset(self):
        return selectors.reviews_received(user_id=self.kwargs["user_id"])

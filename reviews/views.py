from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from . import selectors, services
from .serializers import ReviewInputSerializer, ReviewOutputSerializer


class SessionReviewsView(generics.GenericAPIView):
    """GET: the session's reviews; POST: review the other participant. Participants only."""

    serializer_class = ReviewOutputSerializer

    def get(self, request, session_id):
        reviews = selectors.reviews_of_session(session_id=session_id, user=request.user)
        page = self.paginate_queryset(reviews)
        return self.get_paginated_response(ReviewOutputSerializer(page, many=True).data)

    @extend_schema(request=ReviewInputSerializer, responses={201: ReviewOutputSerializer})
    def post(self, request, session_id):
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


class UserReviewsView(generics.GenericAPIView):
    """Reviews the user received, newest first."""

    serializer_class = ReviewOutputSerializer

    def get(self, request, user_id):
        reviews = selectors.reviews_received(user_id=user_id)
        page = self.paginate_queryset(reviews)
        return self.get_paginated_response(ReviewOutputSerializer(page, many=True).data)

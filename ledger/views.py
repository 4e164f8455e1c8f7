from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import Conflict
from common.idempotency import idempotent

from . import selectors, services
from .serializers import (
    CreditsOutputSerializer,
    HistoryEntryOutputSerializer,
    HistoryQuerySerializer,
    SupportGrantOutputSerializer,
    SupportRefusalOutputSerializer,
    SupportStatusOutputSerializer,
)

_refusal = OpenApiResponse(
    SupportRefusalOutputSerializer,
    description="Not eligible, in cooldown, or the bank is short; the reason in `detail` and `error`.",
)


class CreditsView(APIView):
    @extend_schema(responses=CreditsOutputSerializer)
    def get(self, request):
        credits = selectors.balance_of(user=request.user)
        return Response(CreditsOutputSerializer({"credits": credits}).data)


class TransactionsView(generics.GenericAPIView):
    """The caller's ledger, newest first."""

    serializer_class = HistoryEntryOutputSerializer

    @extend_schema(parameters=[HistoryQuerySerializer], responses=HistoryEntryOutputSerializer(many=True))
    def get(self, request):
        query = HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        account_id = selectors.account_id_of(user=request.user)
        transfers = selectors.transactions_of(
            account_id=account_id, entry_type=query.validated_data.get("type") or None
        )
        page = self.paginate_queryset(transfers)
        data = HistoryEntryOutputSerializer(page, many=True, context={"account_id": account_id}).data
        return self.get_paginated_response(data)


class SupportView(APIView):
    @extend_schema(responses=SupportStatusOutputSerializer)
    def get(self, request):
        status = selectors.support_eligibility(user=request.user, now=timezone.now())
        return Response(SupportStatusOutputSerializer(status).data)

    @idempotent
    @extend_schema(request=None, responses={200: SupportGrantOutputSerializer, 409: _refusal})
    def post(self, request):
        try:
            grant = services.support_grant(user=request.user, now=timezone.now())
        except Conflict as refusal:
            body = {"detail": refusal.message, "error": refusal.message}
            return Response(SupportRefusalOutputSerializer(body).data, status=refusal.status_code)
        return Response(SupportGrantOutputSerializer(grant).data)

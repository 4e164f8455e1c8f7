"""Thin adapters for authentication and user profiles: validate, call a service, render."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from common.idempotency import idempotent

from . import selectors, services
from .serializers import (
    AuthResultSerializer,
    DetailSerializer,
    LoginSerializer,
    MeSerializer,
    MeUpdateSerializer,
    PublicUserSerializer,
    RefreshSerializer,
    SignupSerializer,
    TokenPairSerializer,
    UserSearchQuerySerializer,
)
from .throttles import LoginAttempt, SignupThrottle, TokenRefreshThrottle

_DETAIL = OpenApiResponse(DetailSerializer)


def _auth_result_schema(request, *, success: int, bad_input: str, errors: dict | None = None):
    """The schema of a public endpoint that answers with a user and a token pair."""
    responses = {success: AuthResultSerializer, 400: OpenApiResponse(description=bad_input)}
    return extend_schema(request=request, responses={**responses, **(errors or {}), 429: _DETAIL}, auth=[])


def _auth_result(user) -> dict:
    me = selectors.user_me(user_id=user.pk)
    return {"user": MeSerializer(me).data, "tokens": services.tokens_for(user=user)}


class PublicEndpoint(APIView):
    # No authentication at all: a stale token in a client's header must not block logging in.
    authentication_classes = []
    permission_classes = [AllowAny]


class SignupView(PublicEndpoint):
    throttle_classes = [SignupThrottle]

    @idempotent
    @_auth_result_schema(SignupSerializer, success=201, bad_input="Invalid fields")
    def post(self, request):
        data = SignupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_signup(
            email=data.validated_data["email"],
            name=data.validated_data["name"],
            password=data.validated_data["password"],
        )
        return Response(_auth_result(user), status=status.HTTP_201_CREATED)


class LoginView(PublicEndpoint):
    @_auth_result_schema(LoginSerializer, success=200, bad_input="Missing fields", errors={401: _DETAIL})
    def post(self, request):
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email, password = data.validated_data["email"], data.validated_data["password"]
        attempt = LoginAttempt(request, email)
        wait = attempt.reserve()
        if wait is not None:
            raise Throttled(wait=wait, detail="Too many failed logins. Try again later.")
        # A wrong password raises here and leaves the reserved failure counted.
        user = services.user_authenticate(email=email, password=password, request=request)
        attempt.succeeded()
        return Response(_auth_result(user))


class TokenRefreshView(PublicEndpoint):
    throttle_classes = [TokenRefreshThrottle]

    @extend_schema(
        request=RefreshSerializer,
        responses={200: TokenPairSerializer, 400: _DETAIL, 401: _DETAIL, 429: _DETAIL},
        auth=[],
    )
    def post(self, request):
        data = RefreshSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(services.token_refresh(refresh=data.validated_data["refresh"]))


class LogoutView(APIView):
    @extend_schema(
        request=RefreshSerializer,
        responses={
            205: OpenApiResponse(description="Logged out; the refresh token is revoked"),
            400: _DETAIL,
            401: _DETAIL,
            403: _DETAIL,
        },
    )
    def post(self, request):
        data = RefreshSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_logout(user=request.user, refresh=data.validated_data["refresh"])
        return Response(status=status.HTTP_205_RESET_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        return Response(MeSerializer(selectors.user_me(user_id=request.user.pk)).data)

    @extend_schema(
        request=MeUpdateSerializer,
        responses={200: MeSerializer, 400: OpenApiResponse(description="Invalid fields")},
    )
    def patch(self, request):
        data = MeUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_update(user=request.user, **data.validated_data)
        return Response(MeSerializer(selectors.user_me(user_id=request.user.pk)).data)


class UserListView(generics.ListAPIView):
    serializer_class = PublicUserSerializer

    def get_queryset(self):
        query = UserSearchQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.users_search(query=query.validated_data.get("search", ""))

    @extend_schema(
        parameters=[OpenApiParameter("search", str, description="Part of a name, any case")],
        responses={200: PublicUserSerializer(many=True)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class UserDetailView(APIView):
    @extend_schema(responses={200: PublicUserSerializer, 404: _DETAIL})
    def get(self, request, pk: int):
        return Response(PublicUserSerializer(selectors.user_public_get(user_id=pk)).data)

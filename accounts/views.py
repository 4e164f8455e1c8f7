"""Thin adapters for authentication and user profiles: validate, call a service, render."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from common.idempotency import idempotent
from common.representation import represent
from common.schema import errors

from . import selectors, services
from .authentication import profile_jwt_authentication
from .serializers import (
    AuthResultSerializer,
    DetailSerializer,
    LoginSerializer,
    MeSerializer,
    MeUpdateSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    PasswordSerializer,
    PublicUserSerializer,
    RefreshSerializer,
    SignupSerializer,
    TokenPairSerializer,
    TokensResultSerializer,
    UserSearchQuerySerializer,
    validate_new_password,
)
from .throttles import LoginAttempt, PasswordResetAttempt, SignupThrottle, TokenRefreshThrottle


def _auth_result_schema(request, *, success: int, extra: dict | None = None):
    """The schema of a public endpoint that answers with a user and a token pair; 400, 429 and
    the error shapes come from common.schema."""
    return extend_schema(request=request, responses={success: AuthResultSerializer, **(extra or {})}, auth=[])


def _auth_result(user, *, me=None) -> dict:
    me = me or selectors.user_me(user_id=user.pk)
    return {"user": MeSerializer(me).data, "tokens": services.tokens_for(user=user)}


class PublicEndpoint(APIView):
    # No authentication at all: a stale token in a client's header must not block logging in.
    authentication_classes = []
    permission_classes = [AllowAny]


class SignupView(PublicEndpoint):
    throttle_classes = [SignupThrottle]

    @idempotent
    @_auth_result_schema(SignupSerializer, success=201, extra=errors(409))
    def post(self, request):
        data = SignupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_signup(
            email=data.validated_data["email"],
            name=data.validated_data["name"],
            password=data.validated_data["password"],
        )
        me = selectors.user_me_just_created(user=user)
        return Response(_auth_result(user, me=me), status=status.HTTP_201_CREATED)


def _checking_password(request, email: str):
    """A LoginAttempt already reserved for `email`, or Throttled: every password check (login,
    password change, account deletion) shares the failed-login counts."""
    attempt = LoginAttempt(request, email)
    wait = attempt.reserve()
    if wait is not None:
        raise Throttled(wait=wait, detail="Too many failed logins. Try again later.")
    return attempt


class LoginView(PublicEndpoint):
    # Failed logins are limited by hand (LoginAttempt), not by a throttle class: 429 declared here.
    @_auth_result_schema(LoginSerializer, success=200, extra=errors(401, 429))
    def post(self, request):
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email, password = data.validated_data["email"], data.validated_data["password"]
        attempt = _checking_password(request, email)
        # A wrong password raises here and leaves the reserved failure counted.
        user = services.user_authenticate(email=email, password=password, request=request)
        attempt.succeeded()
        return Response(_auth_result(user))


class TokenRefreshView(PublicEndpoint):
    throttle_classes = [TokenRefreshThrottle]

    @extend_schema(
        request=RefreshSerializer,
        responses={200: TokenPairSerializer, **errors(401)},
        auth=[],
    )
    def post(self, request):
        """Trade a refresh token for a new pair. Refreshes with one token within
        `JWT_REFRESH_REUSE_GRACE` seconds of the first get the same pair; after that the token is
        a reuse: 401, and every token of its login is revoked."""
        data = RefreshSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(services.token_refresh(refresh=data.validated_data["refresh"]))


class LogoutView(APIView):
    @extend_schema(
        request=RefreshSerializer,
        responses={
            205: OpenApiResponse(description="Logged out; the refresh token is revoked"),
            **errors(403),
        },
    )
    def post(self, request):
        data = RefreshSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_logout(user=request.user, refresh=data.validated_data["refresh"])
        return Response(status=status.HTTP_205_RESET_CONTENT)


class PasswordChangeView(APIView):
    @extend_schema(
        request=PasswordChangeSerializer,
        responses={
            200: TokensResultSerializer,
            400: OpenApiResponse(description="Wrong old_password or an invalid new password"),
            **errors(401, 429),
        },
    )
    def post(self, request):
        data = PasswordChangeSerializer(data=request.data, context={"user": request.user})
        data.is_valid(raise_exception=True)
        attempt = _checking_password(request, request.user.email)
        # A wrong old password raises here and leaves the reserved failure counted.
        tokens = services.password_change(
            user=request.user,
            old_password=data.validated_data["old_password"],
            new_password=data.validated_data["new_password"],
        )
        attempt.succeeded()
        return Response({"tokens": tokens})


class PasswordResetView(PublicEndpoint):
    @extend_schema(
        request=PasswordResetSerializer,
        responses={
            202: DetailSerializer,
            400: OpenApiResponse(description="Not an email address"),
            **errors(429),
        },
        auth=[],
    )
    def post(self, request):
        data = PasswordResetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"]
        wait = PasswordResetAttempt(request, email).reserve()
        if wait is not None:
            raise Throttled(wait=wait, detail="Too many password reset requests. Try again later.")
        services.password_reset_request(email=email)
        # The same answer whether or not the account exists (no account enumeration).
        return Response(
            {"detail": "If an account uses this email, a password reset link is on its way."},
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetConfirmView(PublicEndpoint):
    @extend_schema(
        request=PasswordResetConfirmSerializer,
        responses={
            200: DetailSerializer,
            400: OpenApiResponse(
                description="Invalid, used or expired token or uid, or an invalid new password"
            ),
        },
        auth=[],
    )
    def post(self, request):
        data = PasswordResetConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, password = data.validated_data["token"], data.validated_data["new_password"]
        user = services.password_reset_user(uid=data.validated_data["uid"], token=token)
        validate_new_password(password, user=user, field="new_password")
        services.password_reset_confirm(user=user, token=token, new_password=password)
        return Response({"detail": "Your password has been reset; sign in with the new one."})


class MeView(APIView):
    def get_authenticators(self):
        # The caller comes loaded with everything MeSerializer shows: one query per GET.
        return [profile_jwt_authentication()]

    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        return Response(represent(MeSerializer, request.user))

    @extend_schema(
        request=MeUpdateSerializer,
        responses={200: MeSerializer, **errors(409)},
    )
    def patch(self, request):
        data = MeUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_update(user=request.user, **data.validated_data)
        return Response(MeSerializer(selectors.user_me(user_id=request.user.pk)).data)

    @extend_schema(
        request=PasswordSerializer,
        responses={
            204: OpenApiResponse(description="The account is deleted; see SPEC 'Deleting an account'"),
            400: OpenApiResponse(description="Missing or wrong password"),
            **errors(429),
        },
    )
    def delete(self, request):
        data = PasswordSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        attempt = _checking_password(request, request.user.email)
        services.user_password_check(
            user=request.user, password=data.validated_data["password"], field="password"
        )
        attempt.succeeded()
        services.account_delete(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserListView(APIView):
    @extend_schema(
        parameters=[UserSearchQuerySerializer],
        responses={200: PublicUserSerializer(many=True), 400: OpenApiResponse(description="Invalid search")},
    )
    def get(self, request):
        """The user type-ahead: a plain array (not a page, as the original client expects) of at
        most 20 public profiles whose name contains `search`, names starting with it first."""
        query = UserSearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        users = selectors.users_search(query=query.validated_data.get("search", ""))
        return Response(PublicUserSerializer(users, many=True).data)


class UserDetailView(APIView):
    @extend_schema(responses={200: PublicUserSerializer})
    def get(self, request, pk: int):
        return Response(PublicUserSerializer(selectors.user_public_get(user_id=pk)).data)

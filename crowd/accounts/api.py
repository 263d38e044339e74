"""Account API: trade a password for a token, and read who you are."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from .authentication import TokenAuthentication
from .serializers import MeSerializer, TokenRequestSerializer, TokenSerializer
from .services import api_token_get_or_create


class TokenThrottle(AnonRateThrottle):
    rate = "30/min"


class TokenCreateApi(APIView):
    """POST username and password; get the API token to send as ``Authorization: Token <key>``."""

    permission_classes = [AllowAny]
    # Token auth only for its WWW-Authenticate header, which makes wrong passwords a 401.
    authentication_classes = [TokenAuthentication]
    throttle_classes = [TokenThrottle]

    @extend_schema(request=TokenRequestSerializer, responses=TokenSerializer)
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, **data.validated_data)
        if user is None or not user.is_active:
            raise AuthenticationFailed("wrong username or password")
        return Response({"token": api_token_get_or_create(user=user)})


class MeApi(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)

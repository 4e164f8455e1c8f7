from rest_framework.generics import ListAPIView

from .selectors import online_users
from .serializers import OnlineUserSerializer


class OnlineUsersApi(ListAPIView):
    """Users with a live WebSocket on any server process, public fields only."""

    serializer_class = OnlineUserSerializer

    def get_queryset(self):
        return online_users()

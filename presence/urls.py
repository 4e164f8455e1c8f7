from django.urls import path

from .apis import OnlineUsersApi

urlpatterns = [
    path("online/", OnlineUsersApi.as_view(), name="presence-online"),
]

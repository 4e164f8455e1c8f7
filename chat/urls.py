from django.urls import path

from .apis import SessionMessagesApi

urlpatterns = [
    path("sessions/<int:session_id>/messages/", SessionMessagesApi.as_view(), name="session-messages"),
]

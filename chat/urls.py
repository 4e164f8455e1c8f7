from django.urls import path

from .views import SessionMessagesApi

urlpatterns = [
    path("sessions/<int:session_id>/messages/", SessionMessagesApi.as_view(), name="session-messages"),
]

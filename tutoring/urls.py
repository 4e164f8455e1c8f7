from django.urls import path

from . import views

urlpatterns = [
    path("", views.SessionListView.as_view(), name="session-list"),
    path("<int:pk>/", views.SessionDetailView.as_view(), name="session-detail"),
    path("<int:pk>/respond/", views.SessionRespondView.as_view(), name="session-respond"),
    path("<int:pk>/timer/start/", views.TimerStartView.as_view(), name="session-timer-start"),
    path("<int:pk>/timer/stop/", views.TimerStopView.as_view(), name="session-timer-stop"),
    path("<int:pk>/end/", views.SessionEndView.as_view(), name="session-end"),
]

from django.urls import path

from .views import SessionReviewsView, UserReviewsView

urlpatterns = [
    path("sessions/<int:session_id>/reviews/", SessionReviewsView.as_view(), name="session-reviews"),
    path("users/<int:user_id>/reviews/", UserReviewsView.as_view(), name="user-reviews"),
]

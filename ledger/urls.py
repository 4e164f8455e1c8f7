from django.urls import path

from . import views

urlpatterns = [
    path("credits/", views.CreditsView.as_view(), name="credits"),
    path("credits/transactions/", views.TransactionsView.as_view(), name="credit-transactions"),
    path("bank/support/", views.SupportView.as_view(), name="bank-support"),
]

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from .models import Account
from .rates import format_credits
from .selectors import HISTORY_TYPES


def credits_field(**kwargs):
    return serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True, **kwargs)


class CreditsOutputSerializer(serializers.Serializer):
    credits = credits_field()


class HistoryQuerySerializer(serializers.Serializer):
    type = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=f"One of {', '.join(HISTORY_TYPES)} (any case).",
    )

    def validate_type(self, value):
        value = value.strip().upper()
        if value and value not in HISTORY_TYPES:
            raise serializers.ValidationError(f"Unknown type. Use one of: {', '.join(HISTORY_TYPES)}.")
        return value


COUNTERPARTY_KINDS = {Account.Kind.USER: "user", Account.Kind.BANK: "bank", Account.Kind.ISSUANCE: "platform"}

_counterparty_schema = inline_serializer(
    "Counterparty", {"id": serializers.IntegerField(), "name": serializers.CharField()}, allow_null=True
)


class HistoryEntryOutputSerializer(serializers.Serializer):
    """One ledger entry as the caller sees it. `amount` is a signed decimal string: "13.50" came
    in, "-1.50" went out; `balance_after` is the caller's balance after it. `counterparty` is null
    when the other side is the bank or the platform (see `counterparty_kind`)."""

    # The account whose point of view this is comes in context["account_id"].
    id = serializers.IntegerField()
    type = serializers.ChoiceField(source="entry_type", choices=HISTORY_TYPES)
    amount = serializers.SerializerMethodField()
    balance_after = serializers.SerializerMethodField()
    counterparty = serializers.SerializerMethodField()
    counterparty_kind = serializers.SerializerMethodField()
    session = serializers.IntegerField(source="session_id", allow_null=True)
    created_at = serializers.DateTimeField()

    def _incoming(self, transfer) -> bool:
        return transfer.destination_id == self.context["account_id"]

    def _other(self, transfer) -> Account:
        return transfer.source if self._incoming(transfer) else transfer.destination

    @extend_schema_field(credits_field())
    def get_amount(self, transfer) -> str:
        return str(transfer.amount if self._incoming(transfer) else -transfer.amount)

    @extend_schema_field(credits_field())
    def get_balance_after(self, transfer) -> str:
        incoming = self._incoming(transfer)
        return str(transfer.destination_balance_after if incoming else transfer.source_balance_after)

    @extend_schema_field(_counterparty_schema)
    def get_counterparty(self, transfer):
        other = self._other(transfer)
        if other.user is None:
            return None
        return {"id": other.user.pk, "name": other.user.name}

    @extend_schema_field(serializers.ChoiceField(choices=["user", "bank", "platform"]))
    def get_counterparty_kind(self, transfer) -> str:
        return COUNTERPARTY_KINDS[self._other(transfer).kind]


class SupportStatusOutputSerializer(serializers.Serializer):
    eligible = serializers.BooleanField()
    reason = serializers.CharField()
    support_amount = credits_field()
    current_credits = credits_field()
    cooldown_ends = serializers.DateTimeField(allow_null=True)


class SupportGrantOutputSerializer(serializers.Serializer):
    granted = credits_field()
    credits = credits_field()
    cooldown_ends = serializers.DateTimeField()
    message = serializers.SerializerMethodField(help_text='For people, e.g. "4.00 support credits granted."')

    def get_message(self, grant) -> str:
        return f"{format_credits(grant.granted)} support credits granted."


class SupportRefusalOutputSerializer(serializers.Serializer):
    """A refused support request. The same sentence twice: `detail` as every error of the API,
    `error` because the original web client shows that field."""

    detail = serializers.CharField()
    error = serializers.CharField()

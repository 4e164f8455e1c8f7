"""Input validation for the session endpoints, and the shapes of their answers for the schema."""

from rest_framework import serializers

from .representations import SessionOutput, TimerStartedEvent, TimerStoppedEvent
from .services import DECISIONS


class SessionCreateInput(serializers.Serializer):
    # Only the type is checked here (1.5 or "abc" is a field error, never read as 1):
    # session_create is the one place that decides which user and post the ids may name.
    user2 = serializers.IntegerField()
    learning_request = serializers.IntegerField(required=False, allow_null=True)


class SessionRespondInput(serializers.Serializer):
    """The request body, for the schema only: session_respond checks the decision itself, after
    the participant check, so an outsider gets 404 whatever the body says."""

    decision = serializers.ChoiceField(choices=DECISIONS)


class ParticipantCredits(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    teaching_seconds = serializers.IntegerField()
    credits_earned = serializers.CharField(help_text="Received as teacher, after the bank cut.")
    credits_spent = serializers.CharField(help_text="Paid as learner.")
    shortfall = serializers.CharField(help_text="Owed as learner but not paid (balance too low).")


class CreditSummary(serializers.Serializer):
    user1 = ParticipantCredits()
    user2 = ParticipantCredits()
    bank_cut = serializers.CharField()


class SessionEndOutput(serializers.Serializer):
    session = SessionOutput()
    credit_summary = CreditSummary()


class TimerStartedOutput(TimerStartedEvent):
    session = SessionOutput()


class TimerStoppedOutput(TimerStoppedEvent):
    session = SessionOutput()

from rest_framework import serializers


class OnlineUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    availability = serializers.CharField()

"""Shapes of users and tokens in the API."""

from rest_framework import serializers

from .models import User, WorkerProfile


class WorkerProfileSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkerProfile
        fields = ["display_name", "country", "languages", "payout_email"]


class MeSerializer(serializers.ModelSerializer):
    worker_profile = WorkerProfileSerializer(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "role", "worker_profile"]
        read_only_fields = fields


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()

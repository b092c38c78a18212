from rest_framework import generics, serializers

from ioc.api import IsManagerOrReadOnly

from .models import Team
from .selectors import team_list_visible_to
from .services import team_create


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug", "in_ioc", "description", "created_at"]
        read_only_fields = ["id", "created_at"]


class TeamListCreateApi(generics.ListCreateAPIView):
    serializer_class = TeamSerializer
    permission_classes = [IsManagerOrReadOnly]

    def get_queryset(self):
        return team_list_visible_to(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = team_create(**serializer.validated_data)

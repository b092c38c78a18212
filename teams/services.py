"""Writes to teams and memberships."""

from django.db import transaction

from .models import Membership, Team


def team_create(*, name: str, slug: str, in_ioc: bool = True, description: str = "") -> Team:
    return Team.objects.create(name=name, slug=slug, in_ioc=in_ioc, description=description)


@transaction.atomic
def membership_set(*, user, team: Team, role: str = Membership.Role.MEMBER) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        user=user, team=team, defaults={"role": role}
    )
    return membership

"""Who may see and act on which team's work.

- administrators (is_staff) and managers (a manager membership in any team) see and act everywhere;
- members of a team inside the IOC see everything (the floor follows incidents handed outside
  too) and act on every IOC team's work, and their own;
- members of an outside team see and act on their own team's work only;
- observers see their team's work but may not act on it.
"""

from django.contrib.auth.models import AbstractBaseUser

from .models import Membership, Team


def user_is_manager(*, user: AbstractBaseUser) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return Membership.objects.filter(user=user, role=Membership.Role.MANAGER).exists()


def _team_ids_for(user, *, acting: bool) -> set[int] | None:
    """Team ids the user may see (or act on); None means all teams."""
    if not user.is_authenticated:
        return set()
    if user.is_staff or user.is_superuser:
        return None
    memberships = list(Membership.objects.filter(user=user).select_related("team"))
    if any(m.role == Membership.Role.MANAGER for m in memberships):
        return None
    roles = [m for m in memberships if not acting or m.role != Membership.Role.OBSERVER]
    ids = {m.team_id for m in roles}
    if any(m.team.in_ioc and m.role == Membership.Role.MEMBER for m in roles):
        if not acting:
            return None
        ids |= set(Team.objects.filter(in_ioc=True).values_list("id", flat=True))
    return ids


def team_ids_visible_to(*, user) -> set[int] | None:
    return _team_ids_for(user, acting=False)


def team_ids_actionable_by(*, user) -> set[int] | None:
    return _team_ids_for(user, acting=True)


def team_list_visible_to(*, user):
    ids = team_ids_visible_to(user=user)
    teams = Team.objects.all()
    return teams if ids is None else teams.filter(id__in=ids)

"""`manage.py seed_demo`: the IOC teams, people and integrations of a demo floor. Idempotent.

Demo passwords and webhook tokens are kept in var/demo-credentials.json (never committed), so a
second run prints the same login and URLs. Only hashes of the tokens are in the database.
"""

import json
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from alerts.models import Integration
from alerts.services import integration_create, integration_ingest_url, integration_rotate_token
from alerts.tokens import token_matches
from teams.models import Membership, Team
from teams.services import membership_set

TEAMS = [
    ("First line", "first-line", True, "24/7 first-line operators of the IOC floor."),
    ("DBA", "dba", True, "Database administrators on the IOC floor."),
    ("Network", "network", True, "Network engineers on the IOC floor."),
    ("Server", "server", True, "Server and platform engineers on the IOC floor."),
    ("Payments application", "payments-app", False, "Application team outside the IOC."),
]
PEOPLE = [
    ("manager", "first-line", Membership.Role.MANAGER),
    ("alice", "first-line", Membership.Role.MEMBER),
    ("dave", "dba", Membership.Role.MEMBER),
    ("nina", "network", Membership.Role.MEMBER),
    ("sam", "server", Membership.Role.MEMBER),
    ("paul", "payments-app", Membership.Role.MEMBER),
]


class Command(BaseCommand):
    help = "Create demo teams, users and integrations (safe to run again)."

    def handle(self, *args, **options):
        path = settings.VAR_DIR / "demo-credentials.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        saved = json.loads(path.read_text()) if path.exists() else {}
        saved.setdefault("admin_password", secrets.token_urlsafe(12))
        saved.setdefault("staff_password", secrets.token_urlsafe(12))
        saved.setdefault("tokens", {})

        with transaction.atomic():
            teams = {}
            for name, slug, in_ioc, description in TEAMS:
                teams[slug], _ = Team.objects.get_or_create(
                    slug=slug, defaults={"name": name, "in_ioc": in_ioc, "description": description}
                )
            user_model = get_user_model()
            admin, created = user_model.objects.get_or_create(
                username="admin", defaults={"is_staff": True, "is_superuser": True}
            )
            if created or not admin.check_password(saved["admin_password"]):
                admin.set_password(saved["admin_password"])
                admin.save()
            for username, slug, role in PEOPLE:
                user, created = user_model.objects.get_or_create(username=username)
                if created or not user.check_password(saved["staff_password"]):
                    user.set_password(saved["staff_password"])
                    user.save()
                membership_set(user=user, team=teams[slug], role=role)

            urls = {}
            for slug, team in teams.items():
                name = f"Generic webhook ({team.name})"
                integration = Integration.objects.filter(name=name, team=team).first()
                token = saved["tokens"].get(slug)
                if integration is None:
                    integration, token = integration_create(name=name, kind="generic", team=team)
                elif not token or not token_matches(token, integration.token_hash):
                    token = integration_rotate_token(integration=integration, grace=timedelta(0))
                saved["tokens"][slug] = token
                urls[team.name] = integration_ingest_url(token=token)

        path.write_text(json.dumps(saved, indent=2))
        path.chmod(0o600)
        out = self.stdout
        out.write("IOC demo data is ready.")
        out.write(f"  Log in at {settings.IOC_BASE_URL}/ as admin / {saved['admin_password']}")
        out.write(
            f"  Staff users ({', '.join(u for u, _, _ in PEOPLE)}) share the password "
            f"{saved['staff_password']}"
        )
        out.write("  Webhook URLs (generic JSON):")
        for team_name, url in urls.items():
            out.write(f"    {team_name:<22} {url}")
        example = urls["First line"]
        out.write("  Try:")
        out.write(
            f"    curl -sS -X POST -H 'Content-Type: application/json' {example} "
            """-d '{"summary": "Disk 95% full on db-01", "severity": "high", "source": "db-01", """
            """"service": "payments-db"}'"""
        )

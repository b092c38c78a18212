"""The service catalog's services and reads: discovery, the upstream closure, owners for routing,
bulk import and export, and the audit trail."""

import threading
from datetime import timedelta

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.db import close_old_connections, transaction
from django.utils import timezone

from alerts.catalog import (
    CSV_COLUMNS,
    catalog_depends_on_transitively,
    catalog_export,
    catalog_export_csv,
    catalog_import,
    catalog_import_csv,
    catalog_upstream,
    dependency_add,
    dependency_remove,
    service_create,
    service_delete,
    service_discover,
    service_owner_team_id,
    service_update,
    upstream_closure,
)
from alerts.models import Service, ServiceDependency
from tests.base import run_concurrently


def _deps() -> set[tuple[str, str]]:
    return set(ServiceDependency.objects.values_list("service__name", "depends_on__name"))


# --- the upstream closure (pure) ---------------------------------------------------------------


def test_it_follows_dependencies_transitively():
    graph = {"ledger-db": ["db-01", "db-02"], "db-01": ["sw-1"], "db-02": ["sw-1"], "sw-1": []}
    assert upstream_closure(graph, "ledger-db") == {"db-01", "db-02", "sw-1"}
    assert upstream_closure(graph, "db-01") == {"sw-1"}
    assert upstream_closure(graph, "sw-1") == set()


def test_it_survives_cycles_and_never_counts_a_name_as_its_own_upstream():
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": []}
    assert upstream_closure(graph, "a") == {"b", "c", "d"}
    assert upstream_closure(graph, "c") == {"a", "b", "d"}
    assert upstream_closure({"x": ["x"]}, "x") == set()


def test_it_knows_nothing_upstream_of_an_unknown_name():
    assert upstream_closure({"a": ["b"]}, "nobody") == set()


# --- discovery -------------------------------------------------------------------------------


def test_it_discovers_new_services_and_hosts_unowned(db):
    at = timezone.now()
    service_discover(
        names_and_kinds=[("ledger", "service"), ("db-01", "host"), ("ledger", "service")], at=at
    )
    ledger, host = Service.objects.get(name="ledger"), Service.objects.get(name="db-01")
    assert (ledger.kind, host.kind) == ("service", "host")
    for service in (ledger, host):
        assert service.discovered
        assert service.owner_team is None
        assert service.first_seen == at == service.last_alert_at


def test_it_bumps_last_alert_and_keeps_what_a_manager_set(floor):
    earlier = timezone.now() - timedelta(hours=1)
    ledger = service_create(
        name="ledger", owner_team=floor.dba, tier=1, actor=floor.manager, via="api"
    )
    service_discover(names_and_kinds=[("ledger", "host")], at=earlier)
    later = earlier + timedelta(minutes=30)
    service_discover(names_and_kinds=[("ledger", "host")], at=later)
    # A batch that ran late does not move the time back.
    service_discover(names_and_kinds=[("ledger", "host")], at=earlier)
    ledger.refresh_from_db()
    assert ledger.last_alert_at == later
    assert (ledger.kind, ledger.owner_team, ledger.tier, ledger.discovered) == (
        "service",
        floor.dba,
        1,
        False,
    )


def test_it_discovers_a_batch_in_a_fixed_number_of_queries(db, django_assert_num_queries):
    at = timezone.now()
    names = [(f"host-{n}", "host") for n in range(300)]
    # Savepoint, SELECT, INSERT, UPDATE, release: however many names.
    with django_assert_num_queries(4):
        service_discover(names_and_kinds=names, at=at)
    assert Service.objects.count() == 300
    # All known: no INSERT.
    with django_assert_num_queries(4):
        service_discover(names_and_kinds=[*names, ("ledger", "service")][:300], at=at)


def test_it_skips_names_it_cannot_store(db):
    service_discover(
        names_and_kinds=[("", "host"), ("   ", "service"), ("x" * 201, "host"), ("y", "weird")],
        at=timezone.now(),
    )
    assert list(Service.objects.values_list("name", "kind")) == [("y", "other")]


@pytest.mark.django_db(transaction=True)
def test_it_discovers_the_same_names_from_two_workers_at_once():
    names = [(f"host-{n}", "host") for n in range(50)] + [("ledger", "service")]

    def worker(order):
        for _ in range(5):
            with transaction.atomic():
                service_discover(names_and_kinds=order, at=timezone.now())

    errors = run_concurrently(worker, [(names,), (list(reversed(names)),)])
    assert errors == []
    assert Service.objects.count() == 51
    assert Service.objects.filter(last_alert_at__isnull=True).count() == 0


@pytest.mark.django_db(transaction=True)
def test_it_does_not_wait_for_another_worker_bumping_the_same_service():
    service_discover(names_and_kinds=[("ledger", "service")], at=timezone.now())
    holding, done = threading.Event(), threading.Event()
    errors = []

    def slow_batch():
        # Bumps "ledger" and keeps its batch open until the other worker is through.
        try:
            with transaction.atomic():
                service_discover(names_and_kinds=[("ledger", "service")], at=timezone.now())
                holding.set()
                assert done.wait(timeout=10), "the second worker waited for the first"
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()

    thread = threading.Thread(target=slow_batch)
    thread.start()
    assert holding.wait(timeout=10)
    try:
        with transaction.atomic():
            service_discover(
                names_and_kinds=[("ledger", "service"), ("db-01", "host")], at=timezone.now()
            )
    finally:
        done.set()
        thread.join(timeout=20)
    assert errors == []
    assert set(Service.objects.values_list("name", flat=True)) == {"ledger", "db-01"}


# --- owners and upstream, as routing and suppression read them -------------------------------


def test_it_answers_the_owner_of_a_service(floor):
    ledger = service_create(name="ledger", actor=floor.manager, via="api")
    assert service_owner_team_id(name="ledger") is None
    service_update(service=ledger, owner_team=floor.dba, actor=floor.manager, via="web")
    assert service_owner_team_id(name="ledger") == floor.dba.pk
    assert service_owner_team_id(name="unknown") is None
    assert service_owner_team_id(name="") is None


def test_it_reads_owners_from_memory_between_checks(floor, settings, django_assert_num_queries):
    settings.IOC_CATALOG_CHECK_SECONDS = 60
    service_create(name="ledger", owner_team=floor.dba, actor=floor.manager, via="api")
    assert service_owner_team_id(name="ledger") == floor.dba.pk
    with django_assert_num_queries(0):
        for _ in range(100):
            service_owner_team_id(name="ledger")
            catalog_upstream(names={"ledger"})


def test_it_sees_changes_made_by_another_process_at_the_next_check(floor, settings):
    settings.IOC_CATALOG_CHECK_SECONDS = 60
    service_create(name="ledger", owner_team=floor.dba, actor=floor.manager, via="api")
    assert service_owner_team_id(name="ledger") == floor.dba.pk
    # Another process: a write this process's services did not see.
    floor.dba.delete()
    assert service_owner_team_id(name="ledger") is not None  # within the interval
    settings.IOC_CATALOG_CHECK_SECONDS = 0
    assert service_owner_team_id(name="ledger") is None


def test_it_answers_the_transitive_upstream_of_components(floor):
    actor = floor.manager
    db, host, switch = (
        service_create(name=name, kind=kind, actor=actor, via="api")
        for name, kind in [("ledger-db", "database"), ("db-01", "host"), ("sw-1", "network")]
    )
    dependency_add(service=db, depends_on=host, actor=actor, via="api")
    dependency_add(service=host, depends_on=switch, actor=actor, via="api")
    assert catalog_upstream(names={"ledger-db", "db-01", "nobody"}) == {
        "ledger-db": {"db-01", "sw-1"},
        "db-01": {"sw-1"},
        "nobody": set(),
    }
    dependency_add(service=switch, depends_on=db, actor=actor, via="api")  # a cycle
    assert catalog_depends_on_transitively(name="sw-1") == {"ledger-db", "db-01"}
    dependency_remove(service=host, depends_on=switch, actor=actor, via="api")
    assert catalog_depends_on_transitively(name="ledger-db") == {"db-01"}


def test_it_refuses_a_dependency_on_itself_and_bad_values(floor):
    from django.core.exceptions import ValidationError

    db = service_create(name="ledger-db", actor=floor.manager, via="api")
    with pytest.raises(ValidationError):
        dependency_add(service=db, depends_on=db, actor=floor.manager, via="api")
    with pytest.raises(ValidationError):
        service_update(service=db, tier=9, actor=floor.manager, via="api")
    with pytest.raises(ValidationError):
        service_update(service=db, kind="toaster", actor=floor.manager, via="api")
    with pytest.raises(ValidationError):
        service_create(name="ledger-db", actor=floor.manager, via="api")


# --- audit -----------------------------------------------------------------------------------


def test_it_records_who_changed_what_and_from_where(floor):
    db = service_create(name="ledger-db", kind="database", actor=floor.manager, via="api")
    host = service_create(name="db-01", kind="host", actor=floor.admin, via="admin")
    service_update(service=db, owner_team=floor.dba, tier=2, actor=floor.manager, via="web")
    service_update(service=db, owner_team=floor.dba, tier=2, actor=floor.manager, via="web")
    dependency_add(service=db, depends_on=host, actor=floor.manager, via="api")
    dependency_add(service=db, depends_on=host, actor=floor.manager, via="api")
    service_delete(service=host, actor=floor.admin, via="admin")
    entries = list(LogEntry.objects.order_by("id"))
    summary = [(e.user, e.object_repr, e.action_flag) for e in entries]
    assert summary == [
        (floor.manager, "ledger-db", ADDITION),
        (floor.admin, "db-01", ADDITION),
        (floor.manager, "ledger-db", CHANGE),  # the repeated update changed nothing
        (floor.manager, "ledger-db", CHANGE),  # the repeated dependency neither
        (floor.admin, "db-01", DELETION),
    ]
    messages = [e.get_change_message() for e in entries]
    assert "via api" in messages[0] and "via admin" in messages[1]
    assert "owner team: none → dba" in messages[2] and "tier: none → 2" in messages[2]
    assert "via web" in messages[2]
    assert "dependency on db-01" in messages[3]
    assert all(e.content_type.model_class() is Service for e in entries)


def test_it_records_changes_made_in_the_admin_once(floor):
    client = floor.client_for(floor.admin)
    response = client.post(
        "/admin/alerts/service/add/",
        {
            "name": "ledger",
            "kind": "service",
            "owner_team": floor.dba.pk,
            "tier": "1",
            "description": "",
            "depends_on-TOTAL_FORMS": "0",
            "depends_on-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    ledger = Service.objects.get(name="ledger")
    assert ledger.owner_team == floor.dba
    entry = LogEntry.objects.get()
    assert (entry.user, entry.action_flag, entry.object_id) == (
        floor.admin,
        ADDITION,
        str(ledger.pk),
    )
    assert "via admin" in entry.get_change_message()


# --- bulk import and export ------------------------------------------------------------------

TOPOLOGY = {
    "services": [
        {"name": "ledger", "kind": "service", "owner_team": "first-line", "tier": 1},
        {"name": "ledger-db", "kind": "database", "owner_team": "dba", "tier": 1},
        {"name": "db-01", "kind": "host", "owner_team": "dba", "description": "rack 4, U12"},
        {"name": "sw-1", "kind": "network", "description": "core switch"},
    ],
    "dependencies": [
        {"service": "ledger", "depends_on": "ledger-db"},
        ["ledger-db", "db-01"],
        "db-01,sw-1",
    ],
}


def _import(floor, data=TOPOLOGY, via="api"):
    return catalog_import(
        rows=data["services"], dependencies=data["dependencies"], actor=floor.manager, via=via
    )


def test_it_imports_services_and_dependencies(floor):
    result = _import(floor)
    assert result.ok, result.errors
    assert result.created == ["db-01", "ledger", "ledger-db", "sw-1"]
    assert (result.dependencies_added, result.changes) == (3, 7)
    db = Service.objects.get(name="ledger-db")
    assert (db.kind, db.owner_team, db.tier, db.discovered) == ("database", floor.dba, 1, False)
    assert _deps() == {("ledger", "ledger-db"), ("ledger-db", "db-01"), ("db-01", "sw-1")}
    assert catalog_depends_on_transitively(name="ledger") == {"ledger-db", "db-01", "sw-1"}


def test_it_changes_nothing_when_the_same_file_is_imported_again(floor):
    _import(floor)
    logged = LogEntry.objects.count()
    updated_at = dict(Service.objects.values_list("name", "updated_at"))
    again = _import(floor)
    assert again.ok
    assert (again.changes, again.created, again.updated, again.unchanged) == (0, [], [], 4)
    assert LogEntry.objects.count() == logged
    assert dict(Service.objects.values_list("name", "updated_at")) == updated_at


def test_it_updates_only_what_changed_and_says_so(floor):
    service_discover(names_and_kinds=[("ledger", "service")], at=timezone.now())
    _import(floor)
    data = {
        "services": [{"name": "ledger", "owner_team": "dba"}, {"name": "sw-1", "tier": ""}],
        "dependencies": [["ledger", "db-01"]],  # ledger's dependencies are now exactly these
    }
    result = _import(floor, data)
    assert result.ok
    assert (result.updated, result.unchanged) == (["ledger"], 1)
    assert (result.dependencies_added, result.dependencies_removed) == (1, 1)
    ledger = Service.objects.get(name="ledger")
    assert (ledger.owner_team, ledger.tier, ledger.discovered) == (floor.dba, 1, True)
    assert ("ledger", "db-01") in _deps() and ("ledger", "ledger-db") not in _deps()
    entry = LogEntry.objects.filter(object_repr="ledger").latest("id")
    message = entry.get_change_message()
    assert "owner team: first-line → dba" in message
    assert "added dependency on db-01" in message and "removed dependency on ledger-db" in message


def test_it_refuses_a_file_with_errors_and_writes_nothing(floor):
    service_create(name="ledger", actor=floor.manager, via="api")
    before = (Service.objects.count(), LogEntry.objects.count())
    data = {
        "services": [
            {"name": "ledger", "owner_team": "first-line"},  # fine on its own
            {"name": "ledger-db", "owner_team": "no-such-team"},
            {"name": "db-01", "tier": 9, "colour": "red"},
            {"name": "db-02", "depends_on": ["nowhere", "db-02"]},
            {"name": "ledger-db"},
            {"kind": "host"},
        ],
        "dependencies": [["ledger", "missing"], {"service": "ledger"}],
    }
    result = _import(floor, data)
    assert not result.ok
    problems = {(p.where, p.field) for p in result.errors}
    assert problems >= {
        ("services[1]", "owner_team"),
        ("services[2]", "tier"),
        ("services[2]", "colour"),
        ("services[3]", "depends_on"),
        ("services[4]", "name"),
        ("services[5]", "name"),
        ("dependencies[0]", "depends_on"),
        ("dependencies[1]", ""),
    }
    assert result.changes == 0
    assert (Service.objects.count(), LogEntry.objects.count()) == before
    assert Service.objects.get(name="ledger").owner_team is None


CSV_TEXT = (
    "name,kind,owner_team,tier,description,depends_on\n"
    "ledger,service,first-line,1,The ledger,ledger-db\n"
    'ledger-db,database,dba,1,"Primary, replicated",db-01;db-02\n'
    "db-01,host,dba,,,sw-1\n"
    "db-02,host,dba,,,sw-1\n"
    "sw-1,network,,,,\n"
)


def test_it_imports_a_csv_idempotently(floor):
    result = catalog_import_csv(text=CSV_TEXT, actor=floor.manager, via="api")
    assert result.ok, result.errors
    assert (len(result.created), result.dependencies_added) == (5, 5)
    assert Service.objects.get(name="ledger-db").description == "Primary, replicated"
    assert catalog_depends_on_transitively(name="ledger") == {"ledger-db", "db-01", "db-02", "sw-1"}
    again = catalog_import_csv(text=CSV_TEXT, actor=floor.manager, via="api")
    assert (again.ok, again.changes, again.unchanged) == (True, 0, 5)


def test_it_leaves_columns_a_csv_does_not_carry(floor):
    catalog_import_csv(text=CSV_TEXT, actor=floor.manager, via="api")
    result = catalog_import_csv(text="name,tier\nledger,2\n", actor=floor.manager, via="api")
    assert (result.ok, result.updated) == (True, ["ledger"])
    ledger = Service.objects.get(name="ledger")
    assert (ledger.tier, ledger.owner_team, ledger.description) == (
        2,
        floor.first_line,
        "The ledger",
    )
    assert ("ledger", "ledger-db") in _deps()


def test_it_names_the_line_of_a_bad_csv_row(floor):
    text = "name,kind,owner_team\nledger,service,first-line\ndb-01,host,nobody\n"
    result = catalog_import_csv(text=text, actor=floor.manager, via="api")
    assert [(p.where, p.field) for p in result.errors] == [("line 3", "owner_team")]
    assert not Service.objects.exists()
    header = catalog_import_csv(text="service,owner\nx,y\n", actor=floor.manager, via="api")
    assert [p.where for p in header.errors] == ["line 1"]


def test_it_round_trips_an_export_without_changes(floor):
    _import(floor)
    awkward = {
        "services": [
            {"name": "=cmd|' /C calc'!A0", "kind": "other", "description": "-starts with a dash"},
            {"name": "db-02", "kind": "host", "description": 'line one\r\nline "two", three'},
        ],
        "dependencies": [["db-02", "sw-1"], ["db-02", "=cmd|' /C calc'!A0"]],
    }
    assert _import(floor, awkward).ok
    service_discover(names_and_kinds=[("web-7", "host")], at=timezone.now())
    exported = catalog_export()
    assert _import(floor, exported).changes == 0
    text = catalog_export_csv()
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert "'=cmd" in text  # a spreadsheet would run the bare cell as a formula
    result = catalog_import_csv(text=text, actor=floor.manager, via="api")
    assert (result.ok, result.changes, result.unchanged) == (True, 0, 7)
    assert catalog_export() == exported


def test_it_changes_dependencies_in_the_admin_through_the_services(floor):
    db = service_create(name="ledger-db", kind="database", actor=floor.manager, via="api")
    host = service_create(name="db-01", kind="host", actor=floor.manager, via="api")
    LogEntry.objects.all().delete()
    client = floor.client_for(floor.admin)
    form = {
        "kind": "database",
        "owner_team": floor.dba.pk,
        "tier": "",
        "description": "",
        "depends_on-TOTAL_FORMS": "1",
        "depends_on-INITIAL_FORMS": "0",
        "depends_on-0-depends_on": host.pk,
    }
    response = client.post(f"/admin/alerts/service/{db.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert _deps() == {("ledger-db", "db-01")}
    messages = sorted(e.get_change_message() for e in LogEntry.objects.all())
    assert messages == [
        "Added dependency on db-01 (via admin).",
        "Changed owner team: none → dba (via admin).",
    ]
    row = ServiceDependency.objects.get()
    form.update(
        {
            "depends_on-INITIAL_FORMS": "1",
            "depends_on-0-id": row.pk,
            "depends_on-0-service": db.pk,
            "depends_on-0-DELETE": "on",
        }
    )
    response = client.post(f"/admin/alerts/service/{db.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert _deps() == set()
    assert LogEntry.objects.latest("id").get_change_message() == (
        "Removed dependency on db-01 (via admin)."
    )
    for path in [
        f"/admin/alerts/service/{db.pk}/change/",
        f"/admin/alerts/service/{db.pk}/history/",
        "/admin/alerts/service/?owner=none&q=ledger",
        "/admin/alerts/servicedependency/",
    ]:
        assert client.get(path).status_code == 200, path
    history = client.get(f"/admin/alerts/service/{db.pk}/history/").content.decode()
    assert "Removed dependency on db-01 (via admin)." in history

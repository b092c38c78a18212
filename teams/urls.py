"""URLs for on-call schedules, contact methods and notification rules. ioc/urls.py mounts
`urlpatterns` at / and `api_urlpatterns` at /api/v1/."""

from django.urls import path

from . import api, me_views, views

# Browser pages and htmx actions, mounted at /
urlpatterns: list = [
    path("me/notifications/", me_views.me_view, name="me-notifications"),
    path("me/notifications/methods/", me_views.me_method_add_view, name="me-method-add"),
    path(
        "me/notifications/methods/<int:pk>/delete/",
        me_views.me_method_delete_view,
        name="me-method-delete",
    ),
    path("me/notifications/rules/", me_views.me_rule_add_view, name="me-rule-add"),
    path(
        "me/notifications/rules/<int:pk>/delete/",
        me_views.me_rule_delete_view,
        name="me-rule-delete",
    ),
    path("schedules/", views.schedule_list_view, name="schedules"),
    path("schedules/mine.ics", views.my_ical_view, name="schedules-mine-ical"),
    path("schedules/oncall-now/", views.oncall_now_view, name="oncall-now"),
    path("schedules/<int:pk>/", views.schedule_detail_view, name="schedule-detail"),
    path(
        "schedules/<int:pk>/overrides/",
        views.schedule_override_add_view,
        name="schedule-override-add",
    ),
    path(
        "schedules/<int:pk>/overrides/<int:override_id>/delete/",
        views.schedule_override_delete_view,
        name="schedule-override-delete",
    ),
    path("schedules/<int:pk>/calendar.ics", views.schedule_ical_view, name="schedule-ical"),
]

# REST API, mounted at /api/v1/
api_urlpatterns: list = [
    path("schedules/", api.ScheduleListCreateApi.as_view(), name="api-schedules"),
    path("schedules/<int:pk>/", api.ScheduleDetailApi.as_view(), name="api-schedule"),
    path(
        "schedules/<int:pk>/overrides/",
        api.ScheduleOverrideListCreateApi.as_view(),
        name="api-schedule-overrides",
    ),
    path(
        "schedules/<int:pk>/overrides/<int:override_id>/",
        api.ScheduleOverrideDetailApi.as_view(),
        name="api-schedule-override",
    ),
    path("schedules/<int:pk>/ical", api.ScheduleIcalApi.as_view(), name="api-schedule-ical"),
    path("schedules/<int:pk>/import/", api.ScheduleImportApi.as_view(), name="api-schedule-import"),
    path("users/<int:pk>/ical", api.UserIcalApi.as_view(), name="api-user-ical"),
    path("teams/<slug:slug>/oncall/", api.TeamOncallApi.as_view(), name="api-team-oncall"),
    path(
        "users/<int:pk>/contact-methods/",
        api.ContactMethodListApi.as_view(),
        name="api-contact-methods",
    ),
    path(
        "users/<int:pk>/contact-methods/<int:item_id>/",
        api.ContactMethodDetailApi.as_view(),
        name="api-contact-method",
    ),
    path(
        "users/<int:pk>/notification-rules/",
        api.NotificationRuleListApi.as_view(),
        name="api-notification-rules",
    ),
    path(
        "users/<int:pk>/notification-rules/<int:item_id>/",
        api.NotificationRuleDetailApi.as_view(),
        name="api-notification-rule",
    ),
]

"""The shared large-table change list (tutoring/admin_paging.py, its templates under
tutoring/templates/admin/large_table/): every LargeTableAdmin, whatever app its model is in,
renders its rows and its paginator through them, and says "about" before an estimated count."""

import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import reverse

from analytics.models import Event
from tests.conftest import NOW
from tutoring.admin_paging import FILTERED_COUNT_CAP, LargeTableAdmin

LARGE_TABLES = sorted(f"{model._meta.app_label}.{model._meta.model_name}"
                      for model, model_admin in admin.site._registry.items()
                      if isinstance(model_admin, LargeTableAdmin))


def test_the_large_tables_are_the_ones_of_millions_of_rows():
    assert LARGE_TABLES == ["analytics.event", "notifications.delivery", "notifications.notification",
                            "tutoring_sessions.session", "tutoring_sessions.sessionevent"]


@pytest.mark.parametrize("table", LARGE_TABLES)
def test_every_large_table_uses_the_shared_change_list_and_paginator(client, coordinator, table):
    client.force_login(coordinator)
    app_label, model_name = table.split(".")

    response = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))

    assert response.status_code == 200
    used = {t.name for t in response.templates}
    assert {"admin/large_table/change_list.html", "admin/large_table/pagination.html"} <= used
    assert "admin/pagination.html" not in used


def test_an_estimated_count_says_about(client, coordinator):
    """More matching rows than the filtered-count cap: the count is the planner's, and the page says
    "about" before it (the pagination template found from tutoring, for an analytics table)."""
    Event.objects.bulk_create(Event(name="page_view", page="CSES", created_at=NOW - timedelta(seconds=i))
                              for i in range(FILTERED_COUNT_CAP + 1))
    client.force_login(coordinator)

    filtered = client.get(reverse("admin:analytics_event_changelist"), {"name": "page_view"})
    small = client.get(reverse("admin:analytics_event_changelist"), {"name": "session_viewed"})

    assert filtered.context["cl"].paginator.is_estimate
    assert re.search(r"about \d+ events", filtered.content.decode())
    assert not small.context["cl"].paginator.is_estimate
    assert re.search(r"\s0 events", small.content.decode()) and "about 0" not in small.content.decode()

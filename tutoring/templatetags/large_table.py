"""{% large_table_pagination cl %}: Django's {% pagination cl %} (the same context, from the same
function) rendered with admin/large_table/pagination.html, which says "about" before a count
that is the planner's estimate (tutoring/admin_paging.py). Every LargeTableAdmin's change list
uses it, whatever app the model is in."""

from django import template
from django.contrib.admin.templatetags.admin_list import pagination

register = template.Library()


@register.inclusion_tag("admin/large_table/pagination.html")
def large_table_pagination(cl):
    return pagination(cl)

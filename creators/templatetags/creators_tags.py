from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def options(field):
    """A select's <option> list built in plain Python: a template loop (or format_html per option)
    over 500 STs costs 10-40 ms a page."""
    current = "" if field.value() is None else str(field.value())
    return mark_safe("".join(  # noqa: S308 - every value and label is escaped here
        f'<option value="{escape(value)}"{" selected" if str(value) == current else ""}>{escape(label)}</option>'
        for value, label in field.field.choices))

import html

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

register = template.Library()


def option_list(choices) -> str:
    """<option> elements for (value, label) pairs, every value and label escaped, none selected."""
    return "".join(f'<option value="{html.escape(str(value))}">{html.escape(str(label))}</option>'
                   for value, label in choices)


@register.filter
def options(field):
    """A select's <option> list built in plain Python: a template loop (or format_html per option)
    over 500 STs costs 10-40 ms a page. A form may carry the list ready-made (`option_lists`, built
    once per cached page frame); the current value is then marked in it."""
    current = "" if field.value() is None else str(field.value())
    html = getattr(field.form, "option_lists", {}).get(field.name) or option_list(field.field.choices)
    opening = f'<option value="{escape(current)}">'  # a whole element start: matches only that value
    html = html.replace(opening, f'{opening[:-1]} selected>', 1)
    return mark_safe(html)  # noqa: S308 - built by option_list, which escapes every value and label


@register.filter
def avatar(person):
    """A person's avatar, or their initial when they have none (decorative: the name follows)."""
    if person.avatar_url:
        return format_html('<img class="avatar" src="{}" alt="" width="28" height="28" loading="lazy">',
                           person.avatar_url)
    return format_html('<span class="avatar avatar--initials" aria-hidden="true">{}</span>', person.name[:1].upper())


@register.filter
def stars(rating):
    """★★☆☆☆ for a 1-5 rating (hidden from screen readers: the caller names the rating)."""
    rating = int(rating or 0)
    return format_html('<span class="stars__shown" aria-hidden="true">{}</span>', "★" * rating + "☆" * (5 - rating))



def _percent(rate) -> str:
    return f"{round(rate * 100)}%"  # as {% widthratio rate 1 100 %}%


def _cell(value, shown=str) -> str:
    return "–" if value is None else shown(value)


@register.filter
def st_rows(by_st, profile_url):
    """The per-ST metrics table's rows, built in plain Python: a template loop (or format_html)
    over 500 STs with five cells each cost more than the query that sums them. Names are escaped;
    the numbers are numbers (the site has one language and no thousands separator). The
    standard library's escape is Django's without its lazy-string wrapper."""
    return mark_safe("\n".join(  # noqa: S308 - every text escaped here, the rest are numbers
        f'<tr><th scope="row"><a href="{html.escape(profile_url)}{int(r["tutor"]["id"])}/">{html.escape(r["tutor"]["name"])}</a></th>'
        f'<td>{int(r["total"])}</td><td>{_cell(r["average_duration_minutes"], lambda v: f"{v} min")}</td>'
        f'<td>{_cell(r["completion_rate"], _percent)}</td><td>{_cell(r["average_rating"])}</td>'
        f'<td>{_cell(r["no_show_rate"], _percent)}</td></tr>'
        for r in by_st))

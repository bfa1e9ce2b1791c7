"""The coordinators' admin for people and courses.

Who gets in: coordinators (the coordinator role and is_staff) and superusers. The admin's own
permission tables are not used for these models: a staff user without the coordinator role gets
403 on every page here, whatever Django permissions they were given. A coordinator cannot raise
anyone's privileges (staff, superuser, groups, permissions, the coordinator role) nor edit a
superuser or another staff account: only a superuser can.
"""

import zoneinfo

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.utils.html import format_html

from .models import Course, Enrollment, Guardianship, Match, Role, User

# --- who may use the admin --------------------------------------------------------------------


def is_admin_operator(user) -> bool:
    """Coordinators and superusers run the admin; being staff alone is not enough."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    return user.is_superuser or Role.COORDINATOR in (user.roles or ())


def _ids_only(target, values) -> list:
    """The values that `target` (the related model's key field) can read as ids: an autocomplete
    widget looks each up as one, and "x" or "²" raised ValueError there (a 500)."""
    ids = []
    for one in values:
        try:
            target.to_python(one)
        except ValidationError:
            continue
        ids.append(one)
    return ids


class _IdsOnly:
    """An autocomplete widget that looks up only values that can be ids of the related model:
    Django's looks up whatever the form holds, and a posted (or prefilled) "x" or "²" raised
    ValueError while the form with its errors was drawn, a 500 for a coordinator's typo."""

    def optgroups(self, name, value, attr=None):
        remote = self.field.remote_field.model._meta  # the field the ids are of, as Django's optgroups finds it
        target = remote.get_field(getattr(self.field.remote_field, "field_name", None) or remote.pk.attname)
        return super().optgroups(name, _ids_only(target, value), attr)


class IdsOnlyAutocompleteSelect(_IdsOnly, AutocompleteSelect):
    pass


class IdsOnlyAutocompleteSelectMultiple(_IdsOnly, AutocompleteSelectMultiple):
    pass


class CoordinatorAccess:
    """ModelAdmin/InlineModelAdmin mixin: coordinators and superusers may do everything the admin
    class itself allows; nobody else may do anything."""

    def has_module_permission(self, request):
        return is_admin_operator(request.user)

    def has_view_permission(self, request, obj=None):
        return is_admin_operator(request.user)

    def has_add_permission(self, request, *args):  # inlines pass obj, model admins do not
        return is_admin_operator(request.user)

    def has_change_permission(self, request, obj=None):
        return is_admin_operator(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_admin_operator(request.user)


    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = IdsOnlyAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = IdsOnlyAutocompleteSelectMultiple(db_field, self.admin_site,
                                                                 using=kwargs.get("using"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        """The add page's prefill from its query (?student=12) without a value that is no id of the
        related model: the autocomplete widget looks the prefill up as ids, and ?student=x (or
        "²") raised ValueError there, a 500. The field is then left empty for the coordinator."""
        initial = super().get_changeform_initial_data(request)
        for name, value in list(initial.items()):
            try:
                field = self.model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if not field.is_relation or field.related_model is None:
                continue
            target = field.target_field if field.many_to_one or field.one_to_one else field.related_model._meta.pk
            values = value if isinstance(value, list) else [value]
            if len(_ids_only(target, values)) < len(values):
                del initial[name]
        return initial


class ReadOnlyAccess(CoordinatorAccess):
    """View only: records written by the application itself (audit trail, ledger, feedback)."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- users ------------------------------------------------------------------------------------

TIME_ZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]
PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


def roles_field() -> forms.TypedMultipleChoiceField:
    return forms.TypedMultipleChoiceField(choices=Role.choices, widget=forms.CheckboxSelectMultiple,
                                          required=False)


class RolesGuard:
    """Form mixin: the coordinator role opens every session to its holder, so only a superuser
    may grant or remove it. `acting_superuser` is set on the form class by UserAdmin.get_form."""

    acting_superuser = False

    def clean_roles(self):
        roles = self.cleaned_data["roles"]
        before = set(self.instance.roles or ()) if self.instance.pk else set()
        changed = (Role.COORDINATOR in roles) != (Role.COORDINATOR in before)
        if changed and not self.acting_superuser:
            raise ValidationError("Only a superuser can grant or remove the coordinator role.")
        return roles


class UserForm(RolesGuard, UserChangeForm):
    roles = roles_field()
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES)


class UserAddForm(RolesGuard, AdminUserCreationForm):
    roles = roles_field()
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES, initial="UTC")


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return Role.choices

    def queryset(self, request, queryset):
        if self.value() in Role.values:
            return queryset.filter(roles__contains=[self.value()])  # GIN index user_roles_gin
        return queryset


@admin.register(User)
class UserAdmin(CoordinatorAccess, DjangoUserAdmin):
    form = UserForm
    add_form = UserAddForm
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("name", "email", "avatar_url", "avatar", "time_zone", "roles")}),
        ("Access", {"fields": ("is_active", *PRIVILEGE_FIELDS)}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",),
                "fields": ("username", "name", "email", "time_zone", "roles", "usable_password", "password1",
                           "password2")}),
    )
    list_display = ("username", "name", "email", "role_list", "time_zone", "is_staff", "is_active")
    list_filter = (RoleFilter, "is_staff", "is_active")
    search_fields = ("name", "username", "email")
    ordering = ("username",)

    def get_readonly_fields(self, request, obj=None):
        fixed = ("avatar", "last_login", "date_joined")
        return fixed if request.user.is_superuser else (*fixed, *PRIVILEGE_FIELDS)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.acting_superuser = request.user.is_superuser  # a fresh class per call: safe to set
        return form

    def has_change_permission(self, request, obj=None):
        """A coordinator edits people, not other admins: superusers and other staff accounts
        (including their passwords) are for superusers."""
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return not obj.is_superuser and (not obj.is_staff or obj.pk == request.user.pk)

    def has_delete_permission(self, request, obj=None):
        # People are referenced by sessions and ledgers: deactivate them (is_active) instead.
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    @admin.display(description="roles")
    def role_list(self, obj):
        return ", ".join(Role(r).label for r in obj.roles if r in Role.values) or "—"

    @admin.display(description="avatar preview")
    def avatar(self, obj):
        if not obj.avatar_url:
            return "—"
        return format_html('<img src="{}" alt="" width="48" height="48" style="border-radius:50%">',
                           obj.avatar_url)


# --- family, courses, matches -----------------------------------------------------------------

PERSON_SEARCH = ("name", "username")


def person_search(*relations: str) -> tuple[str, ...]:
    return tuple(f"{rel}__{field}" for rel in relations for field in PERSON_SEARCH)


@admin.register(Guardianship)
class GuardianshipAdmin(CoordinatorAccess, admin.ModelAdmin):
    list_display = ("parent", "student", "created_at")
    list_select_related = ("parent", "student")
    autocomplete_fields = ("parent", "student")
    search_fields = person_search("parent", "student")


@admin.register(Course)
class CourseAdmin(CoordinatorAccess, admin.ModelAdmin):
    list_display = ("title", "creator", "created_at")
    list_select_related = ("creator",)
    autocomplete_fields = ("creator",)
    search_fields = ("title", *person_search("creator"))


@admin.register(Enrollment)
class EnrollmentAdmin(CoordinatorAccess, admin.ModelAdmin):
    list_display = ("student", "course", "created_at")
    list_select_related = ("student", "course")
    autocomplete_fields = ("student", "course")
    search_fields = ("course__title", *person_search("student"))


@admin.register(Match)
class MatchAdmin(CoordinatorAccess, admin.ModelAdmin):
    list_display = ("tutor", "student", "course", "active", "accepted_at")
    list_select_related = ("tutor", "student", "course")
    list_filter = ("active",)
    autocomplete_fields = ("tutor", "student", "course")
    search_fields = ("course__title", *person_search("tutor", "student"))

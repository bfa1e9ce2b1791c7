from django.urls import path

from . import views
from .actions import ACTIONS
from .views import actions, pages

urlpatterns = [
    path("", views.home, name="home"),
    path("role/", views.switch_role, name="switch_role"),
    path("family/", pages.family, name="family"),
    path("teach/", pages.teach, name="teach"),
    path("teach/adhoc/", pages.teach_adhoc, name="teach-adhoc"),
    path("learn/", pages.learn, name="learn"),
    path("learn/courses/<int:course_id>/", pages.learn_course, name="learn-course"),
    path("teach/courses/<int:course_id>/", pages.teach_course, name="teach-course"),
    path("sessions/<int:session_id>/", pages.session_page, name="session"),
    # the session actions: one URL per entry of the action registry with a Web part
    *(path(f"sessions/<int:session_id>/{a.web.path}", actions.VIEWS[a.name], name=a.web.url_name)
      for a in ACTIONS if a.web),
]

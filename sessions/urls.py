from django.urls import path

from . import views
from .views import actions, pages

urlpatterns = [
    path("", views.home, name="home"),
    path("family/", pages.family, name="family"),
    path("teach/", pages.teach, name="teach"),
    path("teach/adhoc/", pages.teach_adhoc, name="teach-adhoc"),
    path("learn/", pages.learn, name="learn"),
    path("sessions/<int:session_id>/", pages.session_page, name="session"),
    path("sessions/<int:session_id>/check-in/", actions.check_in, name="session-check-in"),
    path("sessions/<int:session_id>/check-out/", actions.check_out, name="session-check-out"),
    path("sessions/<int:session_id>/acknowledge/", actions.acknowledge, name="session-acknowledge"),
    path("sessions/<int:session_id>/dispute/", actions.dispute, name="session-dispute"),
    path("sessions/<int:session_id>/cancel/", actions.cancel, name="session-cancel"),
    path("sessions/<int:session_id>/reschedule/", actions.reschedule, name="session-reschedule"),
    path("sessions/<int:session_id>/reschedule/accept/", actions.accept_reschedule, name="session-accept"),
    path("sessions/<int:session_id>/reschedule/reject/", actions.reject_reschedule, name="session-reject"),
    path("sessions/<int:session_id>/reschedule/counter/", actions.counter_reschedule, name="session-counter"),
    path("sessions/<int:session_id>/reschedule/withdraw/", actions.withdraw_reschedule,
         name="session-withdraw"),
]

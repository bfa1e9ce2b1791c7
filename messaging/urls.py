from django.urls import path

from . import views

urlpatterns = [
    path("messages/", views.inbox, name="messages-inbox"),
    path("messages/with/<int:user_id>/", views.with_user, name="messages-with"),
    path("messages/<int:conversation_id>/", views.thread, name="messages-thread"),
]

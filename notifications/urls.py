from django.urls import path

from . import views, webhooks

urlpatterns = [
    path("notifications/", views.inbox, name="notifications"),
    path("notifications/read/", views.mark_all_read, name="notifications-read-all"),
    path("notifications/<int:notification_id>/open/", views.open_notification, name="notification-open"),
    path("notifications/<int:notification_id>/read/", views.mark_read, name="notification-read"),
    path("notifications/preferences/", views.preferences, name="notifications-preferences"),
    path("notifications/unsubscribe/<str:token>/", views.unsubscribe, name="notifications-unsubscribe"),
    path("notifications/webhooks/resend/", webhooks.resend_webhook, name="notifications-resend-webhook"),
    path("dev/outbox/", views.dev_outbox, name="dev-outbox"),
    path("dev/outbox/<int:email_id>/", views.dev_outbox_email, name="dev-outbox-email"),
    path("dev/outbox/<int:email_id>/html/", views.dev_outbox_html, name="dev-outbox-html"),
]

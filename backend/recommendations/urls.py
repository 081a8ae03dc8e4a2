from django.urls import path

from backend.recommendations import views

urlpatterns = [
    path("sessions/<id:session_id>/playlist", views.PlaylistView.as_view(), name="playlist"),
    path(
        "sessions/<id:session_id>/playlists",
        views.PlaylistHistoryView.as_view(),
        name="playlist-history",
    ),
    path("sessions/<id:session_id>/feedback", views.FeedbackView.as_view(), name="feedback"),
]

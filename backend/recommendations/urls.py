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
    path("sessions/<id:session_id>/playback", views.PlaybackView.as_view(), name="playback"),
    path("patients/<id:patient_id>/what-works", views.WhatWorksView.as_view(), name="what-works"),
    path(
        "patients/<id:patient_id>/music-learning",
        views.LearningSwitchView.as_view(),
        name="music-learning",
    ),
]

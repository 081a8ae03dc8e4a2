"""Playlist and feedback API under /api/sessions/{id}/. The patient and their current
therapists read (via backend.therapy.selectors); only the patient writes."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import User
from backend.catalogue.models import Track
from backend.common import audit
from backend.common.models import AuditAction
from backend.recommendations import selectors, services
from backend.recommendations.models import Recommendation
from backend.recommendations.serializers import (
    LearningSwitchSerializer,
    ListeningSerializer,
    PlaybackEventSerializer,
    PlaybackRequestSerializer,
    PlaylistRequestSerializer,
    RecommendationSerializer,
    TrackFeedbackSerializer,
    WhatWorksSerializer,
)
from backend.therapy import selectors as therapy_selectors
from backend.therapy.models import TherapySession

MAX_ID = 2**63 - 1  # larger path ids cannot exist (and would overflow the bigint column)


def _session(
    request: Request, session_id: int, *, write: bool, action: str = AuditAction.PLAYLIST
) -> TherapySession:
    session = selectors.visible_session(request.user, session_id) if session_id <= MAX_ID else None
    if session is None:
        raise Http404
    if write and session.patient_id != request.user.pk:
        raise PermissionDenied("only the patient can do this in their session")
    if not write:  # a therapist reading the playlist is a read of the patient's data
        audit.record_request_read(request, action, [session.patient])
    return session


def _full(recommendation_id: int) -> RecommendationSerializer:
    recommendation = Recommendation.objects.prefetch_related("items__track").get(
        pk=recommendation_id
    )
    feedback = selectors.latest_feedback(recommendation.session_id)
    return RecommendationSerializer(recommendation, context={"feedback": feedback})


class PlaylistView(APIView):
    @extend_schema(responses=RecommendationSerializer, summary="The session's current playlist")
    def get(self, request: Request, session_id: int) -> Response:
        session = _session(request, session_id, write=False)
        current = selectors.current_recommendation(session)
        if current is None:  # none built yet: an empty playlist, not an error
            return Response({"id": None, "session": session.pk, "tracks": []})
        return Response(_full(current.pk).data)

    @extend_schema(
        request=PlaylistRequestSerializer,
        responses={201: RecommendationSerializer},
        summary="Build (or rebuild) the playlist from the current mood (patient only)",
    )
    def post(self, request: Request, session_id: int) -> Response:
        session = _session(request, session_id, write=True)
        form = PlaylistRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        recommendation = services.build_playlist(
            session=session, length=form.validated_data.get("length"), trigger="requested"
        )
        return Response(_full(recommendation.pk).data, status=status.HTTP_201_CREATED)


class PlaylistHistoryView(APIView):
    @extend_schema(
        responses=RecommendationSerializer(many=True),
        summary="Every playlist of the session, newest first, with inputs and reasons",
    )
    def get(self, request: Request, session_id: int) -> Response:
        session = _session(request, session_id, write=False)
        recommendations = session.recommendations.prefetch_related("items__track").order_by(
            "-created_at", "-id"
        )
        context = {"feedback": selectors.latest_feedback(session.pk)}
        return Response(RecommendationSerializer(recommendations, many=True, context=context).data)


class FeedbackView(APIView):
    @extend_schema(responses=TrackFeedbackSerializer(many=True), summary="Feedback, oldest first")
    def get(self, request: Request, session_id: int) -> Response:
        session = _session(request, session_id, write=False)
        feedback = session.feedback.order_by("created_at", "id")
        return Response(TrackFeedbackSerializer(feedback, many=True).data)

    @extend_schema(
        request=TrackFeedbackSerializer,
        responses={
            201: inline_serializer(
                "FeedbackResult",
                {
                    "feedback": TrackFeedbackSerializer(),
                    "playlist": RecommendationSerializer(allow_null=True),
                },
            )
        },
        summary="played / skipped / liked / disliked, optionally with a mood check-in",
    )
    def post(self, request: Request, session_id: int) -> Response:
        session = _session(request, session_id, write=True)
        form = TrackFeedbackSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        track: Track = data["track"]
        feedback, refreshed = services.record_feedback(
            session=session,
            patient=request.user,
            track=track,
            kind=data["kind"],
            valence=data.get("valence"),
            arousal=data.get("arousal"),
            word=data.get("word", ""),
        )
        body = {
            "feedback": TrackFeedbackSerializer(feedback).data,
            "playlist": _full(refreshed.pk).data if refreshed is not None else None,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class PlaybackView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "SessionListening",
            {
                "listening": ListeningSerializer(many=True),
                "events": PlaybackEventSerializer(many=True),
                "tracks_played": serializers.IntegerField(),
                "listened_ms": serializers.IntegerField(),
            },
        ),
        summary="What was heard in the session: every played stretch with its effect, and the "
        "player events",
    )
    def get(self, request: Request, session_id: int) -> Response:
        session = _session(request, session_id, write=False, action=AuditAction.LISTENING)
        listening = list(selectors.session_listening(session.pk))
        events = session.playback_events.order_by("at", "id")
        return Response(
            {
                "listening": ListeningSerializer(listening, many=True).data,
                "events": PlaybackEventSerializer(events, many=True).data,
                "tracks_played": len({item.track_id for item in listening}),
                "listened_ms": sum(item.listened_ms for item in listening),
            }
        )

    @extend_schema(
        request=PlaybackRequestSerializer,
        responses={201: PlaybackEventSerializer, 200: PlaybackEventSerializer},
        summary="One player event: started, paused, resumed, finished or skipped, with the "
        "position (patient only; a retried client_event_id answers 200 with the stored event)",
    )
    def post(self, request: Request, session_id: int) -> Response:
        session = _session(request, session_id, write=True)
        form = PlaybackRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        event, created = services.record_playback(
            session=session,
            patient=request.user,
            item_id=data["item"],
            kind=data["kind"],
            position_ms=data["position_ms"],
            client_event_id=data["client_event_id"],
        )
        return Response(
            PlaybackEventSerializer(event).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _patient(request: Request, patient_id: int) -> User:
    patient = therapy_selectors.visible_patient(request.user, patient_id)
    if patient is None:
        raise Http404
    return patient


class WhatWorksView(APIView):
    @extend_schema(
        responses=WhatWorksSerializer,
        summary="What works for this patient: the audio features and tracks with the strongest "
        "measured responses per goal, with 90% intervals (observations, not a diagnosis)",
    )
    def get(self, request: Request, patient_id: int) -> Response:
        patient = _patient(request, patient_id)
        audit.record_request_read(request, AuditAction.WHAT_WORKS, [patient])
        return Response(selectors.what_works(patient.pk))


class LearningSwitchView(APIView):
    @extend_schema(
        request=LearningSwitchSerializer,
        responses=LearningSwitchSerializer,
        summary="Switch the recommender's learning on or off for a patient (their therapist)",
    )
    def put(self, request: Request, patient_id: int) -> Response:
        patient = _patient(request, patient_id)
        form = LearningSwitchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        profile = services.set_learning(
            actor=request.user, patient=patient, enabled=form.validated_data["enabled"]
        )
        return Response({"enabled": profile.learning_enabled})

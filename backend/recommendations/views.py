"""Playlist and feedback API under /api/sessions/{id}/. The patient and their current
therapists read (via backend.therapy.selectors); only the patient writes."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.catalogue.models import Track
from backend.common import audit
from backend.common.models import AuditAction
from backend.recommendations import selectors, services
from backend.recommendations.models import Recommendation
from backend.recommendations.serializers import (
    PlaylistRequestSerializer,
    RecommendationSerializer,
    TrackFeedbackSerializer,
)
from backend.therapy.models import TherapySession

MAX_ID = 2**63 - 1  # larger path ids cannot exist (and would overflow the bigint column)


def _session(request: Request, session_id: int, *, write: bool) -> TherapySession:
    session = selectors.visible_session(request.user, session_id) if session_id <= MAX_ID else None
    if session is None:
        raise Http404
    if write and session.patient_id != request.user.pk:
        raise PermissionDenied("only the patient can do this in their session")
    if not write:  # a therapist reading the playlist is a read of the patient's data
        audit.record_request_read(request, AuditAction.PLAYLIST, [session.patient])
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

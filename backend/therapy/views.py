"""Therapy API: sessions, frame upload and status, readings, check-ins. Thin: reads go
through selectors (scoped to the requester), writes through services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from backend.accounts.models import User
from backend.accounts.permissions import IsPatient
from backend.common import audit
from backend.common.errors import ApplicationError
from backend.common.models import AuditAction
from backend.therapy import selectors, services
from backend.therapy.models import EmotionReading, Frame, MoodCheckIn, TherapySession
from backend.therapy.serializers import (
    EmotionReadingSerializer,
    FrameSerializer,
    FrameUploadSerializer,
    MoodCheckInSerializer,
    TherapySessionSerializer,
)
from backend.therapy.uploads import read_upload, validate_image


class UploadThrottle(UserRateThrottle):
    scope = "uploads"


def _page_patients(rows: Iterable[dict[str, Any]]) -> QuerySet[User]:
    return User.objects.filter(pk__in={row["patient"] for row in rows})


class ReadingPagination(PageNumberPagination):
    page_size = 200
    page_size_query_param = "page_size"
    max_page_size = 1000


def _parse_time(request: Request, name: str) -> Any:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    value = parse_datetime(raw.replace(" ", "+"))
    if value is None:
        raise ApplicationError(f"{name} must be an ISO 8601 date-time, got {raw!r}")
    return value


class TherapySessionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[TherapySession],
):
    serializer_class = TherapySessionSerializer
    filterset_fields = ["patient", "goal"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[TherapySession]:
        selectors.require_visible_filter(
            self.request.user, "patient", self.request.query_params.get("patient")
        )
        return (
            selectors.visible_sessions(self.request.user)
            .select_related("patient")
            .order_by("-started_at")
        )

    def get_permissions(self) -> list[Any]:
        if self.action in ("create", "end") or (
            self.action == "frames" and self.request.method == "POST"
        ):
            return [IsPatient()]
        return super().get_permissions()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        audit.record_request_read(
            request, AuditAction.SESSIONS, _page_patients(response.data["results"])
        )
        return response

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().retrieve(request, *args, **kwargs)
        audit.record_request_read(request, AuditAction.SESSIONS, _page_patients([response.data]))
        return response

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.start_session(
            patient=self.request.user,
            goal=serializer.validated_data.get("goal", "calm"),
            notes=serializer.validated_data.get("notes", ""),
        )

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.update_session(
            actor=self.request.user, session=serializer.instance, **serializer.validated_data
        )

    @extend_schema(request=None, responses=TherapySessionSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str | None = None) -> Response:
        session = self._own_session()
        return Response(self.get_serializer(services.end_session(session=session)).data)

    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": FrameUploadSerializer},
        responses={202: FrameSerializer},
        summary="Upload one frame (JPEG, PNG or WebP) for emotion analysis",
    )
    @extend_schema(
        methods=["GET"],
        responses=FrameSerializer(many=True),
        summary="Frames of the session, newest first",
    )
    @action(
        detail=True,
        methods=["get", "post"],
        parser_classes=[MultiPartParser, FormParser],
        throttle_classes=[UploadThrottle],
    )
    def frames(self, request: Request, pk: str | None = None) -> Response:
        if request.method == "GET":
            session = self.get_object()
            audit.record_request_read(request, AuditAction.FRAMES, [session.patient])
            frames = session.frames.order_by("-captured_at")
            page = self.paginate_queryset(frames)
            return self.get_paginated_response(FrameSerializer(page, many=True).data)
        session = self._own_session_for_upload()
        data = request.data.dict() if hasattr(request.data, "dict") else dict(request.data)
        if "Idempotency-Key" in request.headers and "client_frame_id" not in data:
            data["client_frame_id"] = request.headers["Idempotency-Key"]
        form = FrameUploadSerializer(data=data)
        if not form.is_valid():
            if "image" in form.errors:
                read_upload(None)
            form.is_valid(raise_exception=True)
        client_key = form.validated_data.get("client_frame_id", "")
        try:
            frame = services.accept_frame(
                session=session,
                image=validate_image(read_upload(request.FILES.get("image"))),
                captured_at=form.validated_data.get("captured_at"),
                client_key=client_key,
            )
        except ApplicationError:
            # A retry of a frame already accepted gets the first answer, whatever changed
            # since (the session ended, consent withdrawn, the broker down). Looked up only
            # here: the browser sends a key with every frame, and the first try of each (the
            # usual case) needs no lookup; a retry that races the first is settled by the
            # unique key inside accept_frame.
            if earlier := services.frame_for_key(session=session, client_key=client_key):
                return Response(FrameSerializer.receipt(earlier), status=status.HTTP_202_ACCEPTED)
            raise
        return Response(FrameSerializer.receipt(frame), status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="captured after"),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="captured at or before"),
            OpenApiParameter("primary", OpenApiTypes.BOOL, description="largest face only"),
        ],
        responses=EmotionReadingSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=ReadingPagination)
    def readings(self, request: Request, pk: str | None = None) -> Response:
        session = self.get_object()
        audit.record_request_read(request, AuditAction.READINGS, [session.patient])
        readings: QuerySet[EmotionReading] = session.readings.order_by("captured_at", "id")
        if (since := _parse_time(request, "since")) is not None:
            readings = readings.filter(captured_at__gt=since)
        if (until := _parse_time(request, "until")) is not None:
            readings = readings.filter(captured_at__lte=until)
        if request.query_params.get("primary") in ("1", "true"):
            readings = readings.filter(is_primary=True)
        page = self.paginate_queryset(readings)
        return self.get_paginated_response(EmotionReadingSerializer(page, many=True).data)

    def _own_session(self) -> TherapySession:
        session = self.get_object()
        if session.patient_id != self.request.user.pk:
            raise PermissionDenied("only the patient can do this in their session")
        return session

    def _own_session_for_upload(self) -> TherapySession:
        """_own_session in one query on the frame upload's path (consent answered with it);
        anything else (404 for a session the user cannot see, 403 for a therapist) as there."""
        session = selectors.own_session_for_upload(self.request.user, int(self.kwargs["pk"]))
        return self._own_session() if session is None else session


class FrameViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet[Frame]):
    serializer_class = FrameSerializer

    def get_queryset(self) -> QuerySet[Frame]:
        return selectors.visible_frames(self.request.user)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        frame = self.get_object()
        audit.record_request_read(request, AuditAction.FRAMES, [frame.session.patient])
        return Response(self.get_serializer(frame).data)


class MoodCheckInViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[MoodCheckIn],
):
    serializer_class = MoodCheckInSerializer
    filterset_fields = ["session", "phase", "patient"]

    def get_queryset(self) -> QuerySet[MoodCheckIn]:
        for name in ("patient", "session"):
            selectors.require_visible_filter(
                self.request.user, name, self.request.query_params.get(name)
            )
        return selectors.visible_checkins(self.request.user).order_by("-created_at")

    def get_permissions(self) -> list[Any]:
        if self.action == "create":
            return [IsPatient()]
        return super().get_permissions()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        audit.record_request_read(
            request, AuditAction.CHECKINS, _page_patients(response.data["results"])
        )
        return response

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().retrieve(request, *args, **kwargs)
        audit.record_request_read(request, AuditAction.CHECKINS, _page_patients([response.data]))
        return response

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = services.record_checkin(
            patient=self.request.user,
            session=data.get("session"),
            phase=data["phase"],
            valence=data["valence"],
            arousal=data["arousal"],
            word=data.get("word", ""),
            note=data.get("note", ""),
        )

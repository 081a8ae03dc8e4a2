"""Catalogue API. Everyone authenticated reads active tracks (search, filter, paginate);
admins create, edit, deactivate, import and export. Thin: writes go through services."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts.permissions import IsAdminRole
from backend.catalogue import selectors, services
from backend.catalogue.models import ImportJob, Track
from backend.catalogue.serializers import (
    ImportJobSerializer,
    ImportUploadSerializer,
    TrackSerializer,
)
from backend.common.errors import ApplicationError

SEARCH_PARAMETERS = [
    OpenApiParameter("q", OpenApiTypes.STR, description="text in title, artist or album"),
    OpenApiParameter("genre", OpenApiTypes.STR),
    OpenApiParameter("subgenre", OpenApiTypes.STR),
    OpenApiParameter("mood_region", OpenApiTypes.STR, enum=["happy", "sad", "energetic", "calm"]),
    OpenApiParameter("active", OpenApiTypes.BOOL, description="admins: filter by active flag"),
    OpenApiParameter("ordering", OpenApiTypes.STR, description="title, artist, -popularity, ..."),
]
ORDERING = {"title", "artist", "genre", "popularity", "tempo", "energy", "valence", "id"}


class TrackViewSet(viewsets.ModelViewSet[Track]):
    serializer_class = TrackSerializer
    lookup_value_regex = r"\d{1,18}"  # never overflows the bigint primary key
    filter_backends: list[Any] = []  # search_tracks does the filtering
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Track]:
        tracks = selectors.visible_tracks(self.request.user)
        if self.action == "list":
            tracks = selectors.search_tracks(tracks, self.request.query_params)
        ordering = self.request.query_params.get("ordering", "id")
        if ordering.lstrip("-") not in ORDERING:
            ordering = "id"
        return tracks.order_by(ordering, "id")

    def get_permissions(self) -> list[Any]:
        if self.action in ("list", "retrieve", "audio"):
            return [IsAuthenticated()]
        return [IsAdminRole()]

    @extend_schema(parameters=SEARCH_PARAMETERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.create_track(**serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.update_track(
            track=serializer.instance, **serializer.validated_data
        )

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Deactivate (tracks stay, since past playlists and feedback refer to them)."""
        track = self.get_object()
        services.set_active(tracks=Track.objects.filter(pk=track.pk), active=False)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        summary="Stream the track's uploaded audio file (404 when it has none)",
    )
    @action(detail=True, methods=["get"])
    def audio(self, request: Request, pk: str | None = None) -> FileResponse:
        track = self.get_object()
        if not track.audio_file:
            raise ApplicationError("this track has no audio file", code="no_audio", status_code=404)
        return FileResponse(track.audio_file.open("rb"), as_attachment=False)

    @extend_schema(
        parameters=SEARCH_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.STR},
        summary="Export tracks as CSV (re-importable)",
    )
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> StreamingHttpResponse:
        tracks = selectors.search_tracks(Track.objects.all(), request.query_params)
        response = StreamingHttpResponse(selectors.export_rows(tracks), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="tracks.csv"'
        return response

    @extend_schema(
        request={"multipart/form-data": ImportUploadSerializer},
        responses={201: ImportJobSerializer},
        summary="Import tracks from a CSV (synchronous; poll /api/tracks/imports for progress)",
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, FormParser],
    )
    def import_csv(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise ApplicationError("attach the CSV as the multipart field 'file'", code="no_file")
        job = services.import_tracks(
            stream=upload,
            filename=upload.name or "upload.csv",
            size=upload.size or 0,
            user=request.user,
        )
        return Response(ImportJobSerializer(job).data, status=status.HTTP_201_CREATED)


class ImportJobViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ImportJob]
):
    """Import jobs, newest first: processed_rows / total_rows for a progress bar."""

    serializer_class = ImportJobSerializer
    permission_classes = [IsAdminRole]
    filterset_fields = ["status"]

    def get_queryset(self) -> QuerySet[ImportJob]:
        return ImportJob.objects.order_by("-started_at", "-id")

"""Report endpoints. Thin: check who may see the patient, refresh rollups, read, audit.

Every patient-scoped endpoint answers 404 (not 403) to anyone outside the patient's care team,
as the therapy API does, so the existence of other patients' data is not revealed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import User
from backend.accounts.permissions import IsAdminRole, IsTherapist
from backend.common import audit as common_audit
from backend.common.errors import ApplicationError
from backend.common.models import AuditAction, AuditLog
from backend.recommendations import selectors as recommendation_selectors
from backend.reports import exports, schemas, services
from backend.reports.caseload import caseload
from backend.reports.params import int_param, period
from backend.reports.selectors import patient_trend, session_moods
from backend.reports.session_report import session_report
from backend.therapy import selectors as therapy_selectors
from backend.therapy.selectors import visible_sessions


def visible_patient(request: Request, patient_id: int) -> User:
    patient = therapy_selectors.visible_patient(request.user, patient_id)
    if patient is None:
        raise NotFound()
    return patient


def audit(request: Request, action: str, patients: list[User]) -> None:
    common_audit.record_request_read(request, action, patients)


def trend_for(request: Request, patient: User, default_bucket: str = "week") -> dict[str, Any]:
    p = period(request, default_bucket)
    services.refresh_rollups(patient_ids=[patient.pk])
    return patient_trend(
        patient.pk,
        bucket=p.bucket,
        first=p.first,
        last=p.last,
        tz=p.tz,
        flag_sessions=int_param(request, "flag_sessions", 3, 2, 20),
    )


class SessionReportView(APIView):
    @extend_schema(
        responses=schemas.SessionReport,
        summary="Session report: timeline, emotion shares, frames, check-ins, tracks",
    )
    def get(self, request: Request, session_id: int) -> Response:
        session = (
            visible_sessions(request.user).select_related("patient").filter(pk=session_id).first()
        )
        if session is None:
            raise NotFound()
        audit(request, AuditAction.SESSION_REPORT, [session.patient])
        return Response(session_report(session))


class PatientTrendView(APIView):
    @extend_schema(
        responses=schemas.PatientTrendReport,
        summary="Patient trend in day/week/month buckets with slope and flags",
    )
    def get(self, request: Request, patient_id: int) -> Response:
        patient = visible_patient(request, patient_id)
        trend = trend_for(request, patient)
        audit(request, AuditAction.TREND, [patient])
        return Response(trend)


class CaseloadView(APIView):
    permission_classes = [IsTherapist]

    @extend_schema(
        responses=schemas.CaseloadReport,
        summary="The therapist's caseload with last session, trend and flags",
    )
    def get(self, request: Request) -> Response:
        patients = list(request.user.current_patients())
        services.refresh_rollups(patient_ids=[p.pk for p in patients])
        rows = caseload(patients, flag_sessions=int_param(request, "flag_sessions", 3, 2, 20))
        audit(request, AuditAction.CASELOAD, patients)
        return Response({"patients": rows})


class ExportCsvView(APIView):
    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.STR},
        summary="CSV export (readings, sessions or daily aggregates), streamed",
    )
    def get(self, request: Request, patient_id: int) -> StreamingHttpResponse:
        patient = visible_patient(request, patient_id)
        kind = request.query_params.get("kind", "readings")
        if kind not in exports.KINDS:
            raise ApplicationError(f"kind must be one of {', '.join(exports.KINDS)}")
        p = period(request, "day")
        services.refresh_rollups(patient_ids=[patient.pk])
        audit(request, AuditAction.EXPORT_CSV, [patient])
        response = StreamingHttpResponse(
            exports.export_csv(kind, patient.pk, p), content_type="text/csv; charset=utf-8"
        )
        name = f"patient-{patient.pk}-{kind}-{p.first}-{p.last}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class ReportPdfView(APIView):
    @extend_schema(
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
        summary="PDF report for a patient and period: the mood report, then what works for "
        "this patient (measured music responses)",
    )
    def get(self, request: Request, patient_id: int) -> HttpResponse:
        from backend.reports.charts import patient_pdf

        patient = visible_patient(request, patient_id)
        trend = trend_for(request, patient)
        sessions = session_moods(
            [patient.pk],
            *(datetime.fromisoformat(trend[k]) for k in ("start", "end")),
        )
        pdf = patient_pdf(
            patient=patient,
            trend=trend,
            sessions=[s.as_json() for s in sessions],
            generated_at=timezone.now(),
            what_works=recommendation_selectors.what_works(patient.pk),
        )
        audit(request, AuditAction.REPORT_PDF, [patient])
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="patient-{patient.pk}-report.pdf"'
        return response


class ChartView(APIView):
    CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml"}

    @extend_schema(
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "image/svg+xml"): OpenApiTypes.STR,
        },
        summary="Trend chart as PNG or SVG",
    )
    def get(self, request: Request, patient_id: str, fmt: str) -> HttpResponse:
        from backend.reports.charts import trend_chart

        patient = visible_patient(request, int(patient_id))
        trend = trend_for(request, patient)
        audit(request, AuditAction.CHART, [patient])
        return HttpResponse(trend_chart(trend, fmt), content_type=self.CONTENT_TYPES[fmt])


class AuditLogSerializer(serializers.ModelSerializer[AuditLog]):
    class Meta:
        model = AuditLog
        fields = [
            "id",
            "created_at",
            "actor",
            "actor_username",
            "patient",
            "patient_username",
            "action",
            "path",
            "params",
        ]


class AuditLogView(generics.ListAPIView[AuditLog]):
    """Admins read the access trail, newest first; ?patient=, ?actor=, ?action= filter it."""

    permission_classes = [IsAdminRole]
    serializer_class = AuditLogSerializer
    filterset_fields = ["patient", "actor", "action"]
    queryset = AuditLog.objects.all()

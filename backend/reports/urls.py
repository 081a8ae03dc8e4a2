from django.urls import URLPattern, path, re_path

from backend.reports import views

urlpatterns: list[URLPattern] = [
    path("reports/sessions/<id:session_id>", views.SessionReportView.as_view()),
    path("reports/patients/<id:patient_id>/trend", views.PatientTrendView.as_view()),
    path("reports/caseload", views.CaseloadView.as_view()),
    path("reports/patients/<id:patient_id>/export.csv", views.ExportCsvView.as_view()),
    path("reports/patients/<id:patient_id>/report.pdf", views.ReportPdfView.as_view()),
    re_path(
        r"^reports/patients/(?P<patient_id>[0-9]+)/chart\.(?P<fmt>png|svg)$",
        views.ChartView.as_view(),
    ),
    path("audit", views.AuditLogView.as_view()),
]

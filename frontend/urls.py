from django.urls import path

from frontend import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_page, name="login"),
    path("logout/", views.logout_page, name="logout"),
    # the accounts API hands out accept_url "/invite/#<token>": the token stays in the fragment
    path("invite/", views.invite_page, name="invite"),
    path("session/", views.session_page, name="session"),
    path("history/", views.history_page, name="history"),
    path("caseload/", views.caseload_page, name="caseload"),
    path("patients/<id:patient_id>/", views.patient_page, name="patient"),
    path("sessions/<id:session_id>/", views.session_detail_page, name="session-detail"),
    path("catalogue/", views.catalogue_page, name="catalogue"),
    path("accounts/", views.accounts_page, name="accounts"),
    path("account/", views.account_page, name="account"),
]

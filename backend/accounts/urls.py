from django.urls import path
from rest_framework.routers import SimpleRouter

from backend.accounts import views

router = SimpleRouter(trailing_slash=False)
router.register("users", views.UserViewSet, basename="user")
router.register("assignments", views.AssignmentViewSet, basename="assignment")

urlpatterns = [
    path("auth/login", views.LoginView.as_view(), name="login"),
    path("auth/logout", views.LogoutView.as_view(), name="logout"),
    path("auth/password", views.PasswordChangeView.as_view(), name="password-change"),
    path("me", views.MeView.as_view(), name="me"),
    path("me/export", views.MyDataExportView.as_view(), name="my-data-export"),
    path("me/consent", views.ConsentView.as_view(), name="consent"),
    path("patients", views.PatientListView.as_view(), name="patients"),
    path("invitations", views.InvitationView.as_view(), name="invitations"),
    path("invitations/lookup", views.InvitationLookupView.as_view(), name="invitation-lookup"),
    path("invitations/accept", views.InvitationAcceptView.as_view(), name="invitation-accept"),
    *router.urls,
]

"""Auth (session for the web, token for API clients), the current user, accounts, care team."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from backend.accounts import lockout, privacy, services
from backend.accounts.authentication import check_same_origin, fresh_token
from backend.accounts.models import Assignment, Invitation, User
from backend.accounts.permissions import IsAdminRole, IsPatient, IsTherapist
from backend.accounts.serializers import (
    AdminUserSerializer,
    AssignmentSerializer,
    ConsentSerializer,
    ErasureSerializer,
    InvitationAcceptSerializer,
    InvitationCreateSerializer,
    InvitationLookupSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    UserSerializer,
)
from backend.common.errors import ApplicationError


class LoginThrottle(AnonRateThrottle):
    rate = "30/min"


class LoginView(APIView):
    """Log in with username/password: starts a browser session and returns an API token."""

    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]
    parser_classes = [JSONParser]  # a cross-site HTML form cannot post JSON (login CSRF)

    @extend_schema(request=LoginSerializer, responses=UserSerializer)
    def post(self, request: Request) -> Response:
        check_same_origin(request)
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        username, ip = data.validated_data["username"], lockout.client_ip(request)
        lockout.check_not_locked(username=username, ip=ip)
        user = authenticate(request, **data.validated_data)
        if user is None:
            lockout.record_failure(username=username, ip=ip)
            raise ApplicationError(
                "wrong username or password",
                code="bad_credentials",
                status_code=status.HTTP_401_UNAUTHORIZED,
            )
        lockout.record_success(username=username)
        login(request._request, user)  # rotates the session key (no session fixation)
        token = fresh_token(user)
        return Response({"user": UserSerializer(user).data, "token": token.key})


class LogoutView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        Token.objects.filter(user=request.user).delete()
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(APIView):
    @extend_schema(request=PasswordChangeSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        data = PasswordChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.change_own_password(
            user=request.user,
            old_password=data.validated_data["old_password"],
            new_password=data.validated_data["new_password"],
        )
        update_session_auth_hash(request._request, request.user)  # this browser stays signed in
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses=UserSerializer)
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)

    @extend_schema(request=UserSerializer, responses=UserSerializer)
    def patch(self, request: Request) -> Response:
        serializer = UserSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.update_account(
            actor=request.user, user=request.user, **serializer.validated_data
        )
        return Response(UserSerializer(user).data)


class MyDataExportView(APIView):
    """A patient downloads everything held about them (zip). Nobody else can: an admin may
    erase a patient's data but never read it."""

    permission_classes = [IsPatient]

    @extend_schema(
        request=None,
        responses={(200, "application/zip"): OpenApiTypes.BINARY},
        summary="My data export (zip: export.json + any kept raw frames)",
    )
    def get(self, request: Request) -> FileResponse:
        archive = privacy.export_patient_data(
            actor=request.user, patient=request.user, path=request.path
        )
        return FileResponse(  # streamed from the temporary file, which it closes
            archive,
            as_attachment=True,
            filename=f"moodtune-{request.user.username}-export.zip",
            content_type="application/zip",
        )


class UserViewSet(viewsets.ModelViewSet[User]):
    """Account management, admins only. Deleting deactivates (mood history is kept)."""

    serializer_class = AdminUserSerializer
    permission_classes = [IsAdminRole]
    queryset = User.objects.order_by("id")
    filterset_fields = ["role", "is_active"]

    def perform_create(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        if "password" not in data:
            raise ApplicationError("password is required for a new account")
        serializer.instance = services.create_user(
            username=data["username"],
            password=data["password"],
            role=data["role"],
            email=data.get("email", ""),
            first_name=data.get("first_name", ""),
            last_name=data.get("last_name", ""),
        )

    def perform_update(self, serializer: Any) -> None:
        fields = dict(serializer.validated_data)
        password = fields.pop("password", None)
        user = services.update_account(actor=self.request.user, user=serializer.instance, **fields)
        if password:
            services.set_password(actor=self.request.user, user=user, password=password)
        serializer.instance = user

    def perform_destroy(self, instance: User) -> None:
        instance.is_active = False
        instance.save(update_fields=["is_active"])

    @extend_schema(
        request=ErasureSerializer,
        responses={
            200: inline_serializer(
                "ErasureResult",
                {
                    "erased": serializers.DictField(
                        child=serializers.IntegerField(),
                        help_text="rows deleted per model, files deleted and files_not_removed",
                    )
                },
            )
        },
        summary="Erase a patient and all their data (irreversible), audited",
    )
    @action(detail=True, methods=["post"])
    def erase(self, request: Request, pk: str | None = None) -> Response:
        form = ErasureSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        counts = privacy.erase_patient(
            actor=request.user,
            patient=self.get_object(),
            confirm=form.validated_data["confirm"],
            path=request.path,
        )
        return Response({"erased": counts})


class AssignmentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Assignment],
):
    """Admins assign therapists to patients and end assignments; therapists and patients
    see their own care relationships."""

    serializer_class = AssignmentSerializer

    def get_permissions(self) -> list[Any]:
        if self.action in ("create", "end"):
            return [IsAdminRole()]
        return [IsAuthenticated()]

    def get_queryset(self) -> QuerySet[Assignment]:
        user = self.request.user
        qs = Assignment.objects.select_related("therapist", "patient").order_by("-started_at")
        if getattr(self, "swagger_fake_view", False):
            return qs.none()  # schema generation runs without a user
        if user.is_admin:
            return qs
        if user.is_therapist:
            return qs.filter(therapist=user)
        return qs.filter(patient=user)

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.assign(
            therapist=serializer.validated_data["therapist"],
            patient=serializer.validated_data["patient"],
            actor=self.request.user,
        )

    @extend_schema(request=None, responses=AssignmentSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str | None = None) -> Response:
        assignment = services.end_assignment(assignment=self.get_object(), actor=request.user)
        return Response(AssignmentSerializer(assignment).data)


class PatientListView(APIView):
    """A therapist's current caseload."""

    permission_classes = [IsTherapist]

    @extend_schema(responses=UserSerializer(many=True))
    def get(self, request: Request) -> Response:
        patients = request.user.current_patients().order_by("username")
        return Response(UserSerializer(patients, many=True).data)


class InvitationView(APIView):
    permission_classes = [IsTherapist]

    @extend_schema(
        request=InvitationCreateSerializer,
        responses={
            201: inline_serializer(
                "InvitationCreated",
                {
                    "id": serializers.IntegerField(),
                    "email": serializers.EmailField(),
                    "token": serializers.CharField(),
                    "accept_url": serializers.CharField(help_text="/invite/#<token>"),
                    "expires_at": serializers.DateTimeField(),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, token = services.invite_patient(
            therapist=request.user, email=data.validated_data["email"]
        )
        return Response(
            {
                "id": invitation.pk,
                "email": invitation.email,
                "token": token,
                # in the fragment: browsers never send it, so it never lands in a server log
                "accept_url": f"/invite/#{token}",
                "expires_at": invitation.expires_at,
            },
            status=status.HTTP_201_CREATED,
        )


class InvitationLookupView(APIView):
    """Is this invitation token open, and from whom? (POST: the token stays out of URLs.)"""

    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    @extend_schema(
        request=InvitationLookupSerializer,
        responses=inline_serializer("InvitationLookup", {"therapist": serializers.CharField()}),
    )
    def post(self, request: Request) -> Response:
        data = InvitationLookupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = Invitation.find_open(data.validated_data["token"])
        if invitation is None:
            raise ApplicationError(
                "this invitation is invalid, used or expired",
                code="invalid_invitation",
                status_code=status.HTTP_404_NOT_FOUND,
            )
        therapist = invitation.therapist
        return Response({"therapist": therapist.get_full_name() or therapist.username})


class InvitationAcceptView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    @extend_schema(request=InvitationAcceptSerializer, responses={201: UserSerializer})
    def post(self, request: Request) -> Response:
        data = InvitationAcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = services.accept_invitation(**data.validated_data)
        return Response(UserSerializer(patient).data, status=status.HTTP_201_CREATED)


class ConsentView(APIView):
    """A patient's consent to camera-based emotion analysis: read, give, withdraw."""

    permission_classes = [IsPatient]

    @extend_schema(
        responses=inline_serializer(
            "ConsentState",
            {
                "current_notice_version": serializers.CharField(),
                "consent": ConsentSerializer(allow_null=True),
            },
        )
    )
    def get(self, request: Request) -> Response:
        current = request.user.consents.filter(withdrawn_at__isnull=True).first()
        return Response(
            {
                "current_notice_version": settings.CONSENT_NOTICE_VERSION,
                "consent": ConsentSerializer(current).data if current else None,
            }
        )

    @extend_schema(request=ConsentSerializer, responses={201: ConsentSerializer})
    def post(self, request: Request) -> Response:
        data = ConsentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = services.grant_consent(
            patient=request.user, notice_version=data.validated_data.get("notice_version")
        )
        return Response(ConsentSerializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def delete(self, request: Request) -> Response:
        services.withdraw_consent(patient=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

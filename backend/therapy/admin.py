"""Admin for sessions: mood data is shown read-only (it is derived, never edited by hand)."""

from django.contrib import admin

from backend.therapy.models import EmotionReading, Frame, MoodCheckIn, TherapySession


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class FrameInline(admin.TabularInline):
    model = Frame
    fields = ("captured_at", "status", "error", "model_version")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(TherapySession)
class TherapySessionAdmin(admin.ModelAdmin):
    list_display = ("id", "patient", "goal", "started_at", "ended_at")
    list_filter = ("goal",)
    search_fields = ("patient__username",)
    readonly_fields = (
        "patient",
        "started_at",
        "ended_at",
        "mood_valence",
        "mood_arousal",
        "mood_distribution",
        "mood_updated_at",
    )
    inlines = [FrameInline]


@admin.register(Frame)
class FrameAdmin(ReadOnlyAdmin):
    list_display = ("id", "session", "captured_at", "status", "attempts")
    list_filter = ("status",)
    exclude = ("image",)  # never show raw frames in the admin


@admin.register(EmotionReading)
class EmotionReadingAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "session",
        "captured_at",
        "face_index",
        "emotion",
        "confidence",
        "valence",
        "arousal",
    )
    list_filter = ("emotion",)


@admin.register(MoodCheckIn)
class MoodCheckInAdmin(ReadOnlyAdmin):
    list_display = ("patient", "session", "phase", "valence", "arousal", "word", "created_at")

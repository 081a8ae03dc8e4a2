"""CSV import: both shared files, dedup, rejected-row report, idempotency, bad files."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from backend.catalogue import services
from backend.catalogue.models import ImportJob, ImportStatus, Track
from backend.common.errors import ApplicationError

HEADER = (
    "track_id,track_name,track_artist,track_album_name,playlist_genre,playlist_subgenre,"
    "danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,"
    "liveness,valence,tempo,duration_ms"
)
GOOD = (
    "{id},Song {id},Artist {id},Album,pop,dance pop,"
    "0.7,0.8,5,-5.1,1,0.05,0.1,0.0,0.1,0.6,120.0,200000"
)


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def run_import(data: bytes, name: str = "t.csv", **kwargs) -> ImportJob:  # type: ignore[no-untyped-def]
    return services.import_tracks(stream=io.BytesIO(data), filename=name, size=len(data), **kwargs)


@pytest.fixture(scope="module")
def songs(shared_data: Path) -> Path:
    path = shared_data / "songs"
    if not (path / "data_moods.csv.gz").exists():
        pytest.skip(f"{path} is not available")
    return path


@pytest.mark.django_db
def test_data_moods_imports_every_track_without_a_mode(songs: Path) -> None:
    data = (songs / "data_moods.csv.gz").read_bytes()
    job = run_import(data, "data_moods.csv.gz")
    assert (job.status, job.total_rows, job.created_count, job.rejected_count) == (
        "done",
        686,
        686,
        0,
    )
    assert Track.objects.count() == 686
    assert not Track.objects.exclude(mode=None).exists()  # the file has no mode column
    track = Track.objects.get(external_id="2H7PHVdQ3mXqEHXcvclTB0")
    assert (track.title, track.artist, track.duration_ms) == ("1999", "Prince", 379266)
    assert track.external_url == "https://open.spotify.com/track/2H7PHVdQ3mXqEHXcvclTB0"
    assert set(Track.objects.values_list("mood_region", flat=True)) <= {
        "happy",
        "sad",
        "energetic",
        "calm",
    }


@pytest.mark.django_db
def test_a_second_import_updates_and_never_duplicates(songs: Path) -> None:
    data = (songs / "data_moods.csv.gz").read_bytes()
    run_import(data)
    Track.objects.filter(external_id="2H7PHVdQ3mXqEHXcvclTB0").update(energy=0.01, is_active=False)
    again = run_import(data)
    assert (again.created_count, again.updated_count) == (0, 686)
    assert Track.objects.count() == 686
    track = Track.objects.get(external_id="2H7PHVdQ3mXqEHXcvclTB0")
    assert track.energy == pytest.approx(0.73)  # the file's value is restored
    assert track.is_active is False  # an admin's deactivation survives re-imports


@pytest.mark.slow
@pytest.mark.django_db
def test_the_full_spotify_catalogue_imports_deduplicated_with_its_quirks(songs: Path) -> None:
    data = (songs / "spotify_songs.csv.gz").read_bytes()
    job = run_import(data, "spotify_songs.csv.gz")
    assert job.total_rows == 32833
    assert (job.created_count, job.duplicate_rows, job.rejected_count) == (28356, 4477, 0)
    assert job.processed_rows == job.total_rows
    assert Track.objects.count() == 28356
    assert Track.objects.filter(title="").count() == 4  # rows without names still import
    assert Track.objects.filter(tempo=0).count() == 1
    # data_moods over it: 108 shared ids update, and keep the genre and mode it lacks.
    moods = run_import((songs / "data_moods.csv.gz").read_bytes())
    assert (moods.created_count, moods.updated_count) == (578, 108)
    shared = Track.objects.filter(external_id__in=_ids(songs / "data_moods.csv.gz"))
    assert shared.exclude(genre="").count() == 108
    assert shared.exclude(mode=None).count() == 108


def _ids(path: Path) -> list[str]:
    with gzip.open(path, "rt", newline="") as handle:
        return [row["id"] for row in csv.DictReader(handle)]


@pytest.mark.django_db
def test_bad_rows_are_rejected_with_line_numbers_and_reasons_and_the_rest_imported() -> None:
    rows = [
        GOOD.format(id="aaa"),
        GOOD.format(id="bbb").replace("0.6,120.0", "lots,120.0"),  # valence not a number
        GOOD.format(id="ccc").replace(",0.8,5,", ",1.8,5,"),  # energy out of range
        GOOD.format(id="ddd").replace(",200000", ",2.5e5x"),
        "eee,only,three",
        GOOD.format(id=""),
        GOOD.format(id="aaa"),  # repeated id: skipped, not an error
    ]
    job = run_import(csv_bytes(*rows))
    assert (job.created_count, job.duplicate_rows, job.rejected_count) == (1, 1, 5)
    by_line = {r["line"]: r["reasons"] for r in job.rejected}
    assert by_line[3] == ["valence: 'lots' is not a number"]
    assert by_line[4] == ["energy: 1.8 is outside [0.0, 1.0]"]
    assert "duration_ms" in by_line[5][0]
    assert "fields" in by_line[6][0]
    assert "external_id" in by_line[7][0]
    assert list(Track.objects.values_list("external_id", flat=True)) == ["aaa"]


@pytest.mark.django_db
def test_a_csv_with_the_wrong_columns_is_refused_and_the_job_says_why() -> None:
    with pytest.raises(ApplicationError) as caught:
        run_import(b"song,singer,mood\nx,y,happy\n")
    assert caught.value.code == "bad_columns"
    assert "valence" in caught.value.details["missing"]
    job = ImportJob.objects.get(pk=caught.value.details["job"])
    assert job.status == ImportStatus.FAILED and "required columns" in job.error
    assert Track.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (HEADER.encode() + b"\n", "empty_file"),
        (b"\x00\xff\xfe binary \x89PNG", "unreadable"),
        (gzip.compress(b"")[:10], "unreadable"),
    ],
    ids=["empty", "header only", "binary", "truncated gzip"],
)
def test_empty_and_unreadable_files_are_refused(data: bytes, code: str) -> None:
    with pytest.raises(ApplicationError) as caught:
        run_import(data)
    assert caught.value.code == code


@pytest.mark.django_db
def test_a_gzip_upload_is_read_whatever_its_name() -> None:
    job = run_import(gzip.compress(csv_bytes(GOOD.format(id="zip1"))), name="upload.bin")
    assert job.created_count == 1


@pytest.mark.django_db
def test_a_50_mb_upload_is_refused_before_parsing(client_for, admin_user, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    big = tmp_path / "big.csv"
    row = (GOOD.format(id="x" * 20) + "\n").encode()
    with big.open("wb") as handle:
        handle.write(HEADER.encode() + b"\n")
        handle.write(row * (50 * 1024 * 1024 // len(row) + 1))
    assert big.stat().st_size >= 50 * 1024 * 1024
    with big.open("rb") as handle:
        response = client_for(admin_user).post(
            "/api/tracks/import", {"file": handle}, format="multipart"
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert Track.objects.count() == 0 and not ImportJob.objects.exists()


@pytest.mark.django_db
def test_admin_upload_returns_counts_and_rejected_rows(client_for, admin_user) -> None:  # type: ignore[no-untyped-def]
    data = csv_bytes(GOOD.format(id="one"), GOOD.format(id="two").replace("0.6,", "-0.6,"))
    upload = SimpleUploadedFile("tracks.csv", data, "text/csv")
    response = client_for(admin_user).post("/api/tracks/import", {"file": upload})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["created_count"], body["rejected_count"]) == ("done", 1, 1)
    assert body["processed_rows"] == body["total_rows"] == 2
    assert body["rejected"] == [{"line": 3, "reasons": ["valence: -0.6 is outside [0.0, 1.0]"]}]
    jobs = client_for(admin_user).get("/api/tracks/imports").json()["results"]
    assert jobs[0]["id"] == body["id"]
    running = client_for(admin_user).get("/api/tracks/imports?status=running").json()
    assert running["results"] == []  # what a progress page polls while its upload runs
    done = client_for(admin_user).get(f"/api/tracks/imports/{body['id']}").json()
    assert done["processed_rows"] == done["total_rows"]


@pytest.mark.django_db
def test_admin_upload_of_a_bad_file_answers_with_the_error_shape(client_for, admin_user) -> None:  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile("x.csv", b"a,b\n1,2\n", "text/csv")
    response = client_for(admin_user).post("/api/tracks/import", {"file": upload})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_columns"


@pytest.mark.django_db
def test_the_command_imports_and_prints_a_json_summary(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "t.csv"
    path.write_bytes(csv_bytes(GOOD.format(id="cmd1"), "broken,row"))
    call_command("import_tracks", str(path))
    summary = json.loads(capsys.readouterr().out)
    assert (summary["created"], summary["rejected"]) == (1, 1)
    assert summary["rejected_rows"][0]["line"] == 3


@pytest.mark.django_db
def test_progress_is_saved_after_every_chunk() -> None:
    rows = [GOOD.format(id=f"p{i}") for i in range(2 * services.CHUNK + 10)]
    seen: list[tuple[int, int]] = []

    def progress(job: ImportJob) -> None:
        saved = ImportJob.objects.get(pk=job.pk)  # what a polling page reads
        seen.append((saved.processed_rows, saved.total_rows))

    run_import(csv_bytes(*rows), on_progress=progress)
    total = len(rows)
    assert seen == [(services.CHUNK, total), (2 * services.CHUNK, total), (total, total)]

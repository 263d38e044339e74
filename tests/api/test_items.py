"""Datasets and items over the API: uploads, imports, gold answers, and bad input."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests import factories
from workflows.projects.models import Dataset, Item

pytestmark = pytest.mark.django_db

GOLD = {"regions": [{"category_id": None, "bbox": [2, 3, 10, 12]}]}


def gold_for(project, **region):
    category = project.label_schema.categories.first()
    return {"regions": [{"category_id": category.pk, "bbox": [2, 3, 10, 12], **region}]}


def upload(name="a.png", data=None):
    return SimpleUploadedFile(
        name, data if data is not None else factories.png_bytes(), "image/png"
    )


def zip_of(files: dict[str, bytes]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return SimpleUploadedFile("batch.zip", buffer.getvalue(), "application/zip")


def media_files(settings) -> list:
    root = settings.MEDIA_ROOT
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def dataset(project):
    return factories.make_dataset(project=project)


def test_manager_uploads_an_image_and_its_size_and_hash_are_read(api, alice, dataset):
    data = factories.png_bytes(40, 30)
    response = api(alice).post(
        "/api/v1/items/", {"dataset": dataset.pk, "image": upload(data=data)}, format="multipart"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["width"], body["height"]) == (40, 30)
    import hashlib

    assert body["content_hash"] == hashlib.sha256(data).hexdigest()
    assert body["labels_wanted"] == dataset.project.min_redundancy
    assert body["is_gold"] is False


def test_gold_item_upload_validates_the_answer(api, alice, dataset, settings):
    client = api(alice)
    good = gold_for(dataset.project)
    import json

    response = client.post(
        "/api/v1/items/",
        {"dataset": dataset.pk, "image": upload(), "gold_answer": json.dumps(good)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["gold_answer"] == good
    outside = gold_for(dataset.project, bbox=[50, 40, 30, 30])  # image is 64x48
    response = client.post(
        "/api/v1/items/",
        {"dataset": dataset.pk, "image": upload(), "gold_answer": json.dumps(outside)},
        format="multipart",
    )
    assert response.status_code == 400
    assert "outside the 64x48 image" in response.json()["error"]["message"]
    assert Item.objects.count() == 1
    assert len(media_files(settings)) == 1  # the refused image left no file behind


@pytest.mark.parametrize(
    "data, status, text",
    [
        (b"", 400, "empty"),
        (b"definitely not an image", 400, "not a readable image"),
        (factories.png_bytes()[:40], 400, "not a readable image"),
    ],
)
def test_bad_uploads_are_refused_and_leave_nothing(
    api, alice, dataset, settings, data, status, text
):
    response = api(alice).post(
        "/api/v1/items/", {"dataset": dataset.pk, "image": upload(data=data)}, format="multipart"
    )
    assert response.status_code == status, response.content
    assert text in response.json()["error"]["message"]
    assert Item.objects.count() == 0
    assert media_files(settings) == []


def test_oversized_image_gets_413(api, alice, dataset, settings):
    settings.QUORUM_MAX_IMAGE_BYTES = 100
    response = api(alice).post(
        "/api/v1/items/", {"dataset": dataset.pk, "image": upload()}, format="multipart"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert Item.objects.count() == 0


def test_too_many_pixels_gets_413(api, alice, dataset, settings):
    settings.QUORUM_MAX_IMAGE_PIXELS = 100
    response = api(alice).post(
        "/api/v1/items/", {"dataset": dataset.pk, "image": upload()}, format="multipart"
    )
    assert response.status_code == 413 and "pixels" in response.json()["error"]["message"]


def test_same_image_twice_is_a_conflict(api, alice, dataset):
    data = factories.png_bytes()
    client = api(alice)
    body = {"dataset": dataset.pk, "image": upload(data=data)}
    assert client.post("/api/v1/items/", body, format="multipart").status_code == 201
    body = {"dataset": dataset.pk, "image": upload(data=data)}
    response = client.post("/api/v1/items/", body, format="multipart")
    assert response.status_code == 409 and "already in this dataset" in response.content.decode()
    assert Item.objects.count() == 1


@pytest.mark.parametrize(
    ("persona", "code"), [("bob", 404), ("wendy", 404), ("rita", 403), ("aldo", 403)]
)
def test_only_the_owner_uploads_into_a_dataset(api, request, dataset, persona, code):
    """A dataset is a 404 to whoever may not read the project's data, a 403 to its readers."""
    response = api(request.getfixturevalue(persona)).post(
        "/api/v1/items/", {"dataset": dataset.pk, "image": upload()}, format="multipart"
    )
    assert response.status_code == code
    assert Item.objects.count() == 0


def test_zip_import_all_or_nothing(api, alice, dataset, settings):
    files = {
        "a.png": factories.png_bytes(),
        "sub/b.png": factories.png_bytes(),
        "broken.png": b"nope",
        "notes.txt": b"ignored",
        "__MACOSX/._a.png": b"ignored",
    }
    client = api(alice)
    url = f"/api/v1/datasets/{dataset.pk}/import/"
    response = client.post(url, {"archive": zip_of(files)}, format="multipart")
    assert response.status_code == 400
    assert "broken.png" in response.json()["error"]["message"]
    assert Item.objects.count() == 0 and media_files(settings) == []

    response = client.post(
        url, {"archive": zip_of(files), "skip_invalid": "true"}, format="multipart"
    )
    assert response.status_code == 201, response.content
    report = response.json()
    assert report["created"] == 2 and list(report["rejected"]) == ["broken.png"]
    assert set(dataset.items.values_list("original_name", flat=True)) == {"a.png", "sub/b.png"}

    again = client.post(url, {"archive": zip_of(files), "skip_invalid": "true"}, format="multipart")
    assert sorted(again.json()["duplicates"]) == ["a.png", "sub/b.png"]
    assert Item.objects.count() == 2


def test_zip_import_refuses_bombs_and_garbage(api, alice, dataset, settings):
    url = f"/api/v1/datasets/{dataset.pk}/import/"
    client = api(alice)
    garbage = SimpleUploadedFile("x.zip", b"PK not really", "application/zip")
    assert client.post(url, {"archive": garbage}, format="multipart").status_code == 400
    settings.QUORUM_MAX_ARCHIVE_BYTES = 10
    big = zip_of({"a.png": factories.png_bytes()})
    response = client.post(url, {"archive": big}, format="multipart")
    assert response.status_code == 413 and "unpacks to" in response.json()["error"]["message"]
    assert client.post(url, {}, format="multipart").status_code == 400
    assert Item.objects.count() == 0


def test_folder_import_reads_only_inside_the_import_root(api, alice, dataset, settings, tmp_path):
    root = tmp_path / "imports"
    (root / "batch1").mkdir(parents=True)
    (root / "batch1" / "x.png").write_bytes(factories.png_bytes())
    (tmp_path / "secret.png").write_bytes(factories.png_bytes())
    url = f"/api/v1/datasets/{dataset.pk}/import/"
    client = api(alice)
    response = client.post(url, {"folder": "batch1"}, format="json")
    assert response.status_code == 400 and "disabled" in response.json()["error"]["message"]
    settings.QUORUM_IMPORT_ROOT = str(root)
    assert client.post(url, {"folder": "../"}, format="json").status_code == 400
    response = client.post(url, {"folder": "batch1"}, format="json")
    assert response.status_code == 201 and response.json()["created"] == 1


def test_gold_answers_are_hidden_from_reviewers_and_items_from_workers(
    api, project, dataset, alice, aldo, rita, wendy
):
    factories.make_item(project=project, dataset=dataset, gold_answer=gold_for(project))
    assert "gold_answer" in api(alice).get("/api/v1/items/").json()["results"][0]
    assert "gold_answer" in api(aldo).get("/api/v1/items/").json()["results"][0]
    reviewed = api(rita).get("/api/v1/items/").json()["results"][0]
    assert "gold_answer" not in reviewed and "is_gold" not in reviewed
    assert api(rita).get("/api/v1/items/?is_gold=true").status_code == 403
    assert api(wendy).get("/api/v1/items/").json()["results"] == []
    assert api(wendy).get(f"/api/v1/datasets/{dataset.pk}/").status_code == 404


def test_auditor_reads_but_cannot_write(api, project, dataset, aldo):
    item = factories.make_item(project=project, dataset=dataset)
    client = api(aldo)
    assert client.get(f"/api/v1/items/{item.pk}/").status_code == 200
    assert client.patch(f"/api/v1/items/{item.pk}/", {"priority": 5}).status_code == 403
    assert client.delete(f"/api/v1/items/{item.pk}/").status_code == 403
    assert client.delete(f"/api/v1/datasets/{dataset.pk}/").status_code == 403
    assert (
        client.post(
            "/api/v1/datasets/", {"project": project.pk, "name": "mine"}, format="json"
        ).status_code
        == 403
    )
    item.refresh_from_db()
    assert item.priority == 0 and Dataset.objects.count() == 1


def test_item_with_assignments_cannot_be_deleted_or_turned_gold(api, project, alice, wendy):
    item = factories.make_item(project=project)
    factories.make_annotation(
        assignment=factories.make_assignment(item=item, worker=wendy, status="submitted")
    )
    client = api(alice)
    assert client.delete(f"/api/v1/items/{item.pk}/").status_code == 409
    response = client.patch(
        f"/api/v1/items/{item.pk}/", {"gold_answer": gold_for(project)}, format="json"
    )
    assert response.status_code == 409
    item.refresh_from_db()
    assert not item.is_gold


def test_deleting_an_item_removes_its_file(
    api, project, alice, settings, django_capture_on_commit_callbacks
):
    item = factories.make_item(project=project)
    assert len(media_files(settings)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert api(alice).delete(f"/api/v1/items/{item.pk}/").status_code == 204
    assert media_files(settings) == []


def test_dataset_names_are_unique_per_project(api, project, alice):
    client = api(alice)
    body = {"project": project.pk, "name": "batch"}
    assert client.post("/api/v1/datasets/", body, format="json").status_code == 201
    response = client.post("/api/v1/datasets/", body, format="json")
    assert response.status_code == 400 and "unique" in response.json()["error"]["message"]
    assert project.datasets.count() == 1

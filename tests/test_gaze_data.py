"""Gaze data: OSIE on the real files (must run in CI, never skip), MIT1003 on a fabricated
archive in the official layout, and the checksummed atomic downloads (file:// URLs and
fake openers, no network)."""

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from fovex_lib.gaze import download as dl
from fovex_lib.gaze import mit1003, osie
from fovex_lib.gaze.download import ChecksumError, download_file, extract_zip, parse_checksum
from fovex_lib.gaze.mit1003 import download_mit1003, load_mit1003
from fovex_lib.gaze.osie import download_osie, load_osie

from conftest import shared_data


@pytest.fixture(scope="module")
def osie_data():
    return load_osie(shared_data(), download=False)


# --------------------------------------------------------------------------- OSIE (real files)


def test_osie_real_files(osie_data):
    assert len(osie_data) == 500 and len(osie_data.missing) == 200
    assert osie_data[0].image_id == "1001" and osie_data[-1].image_id == "1500"
    assert all(r.size == (600, 800) and r.num_observers == 15 for r in osie_data)
    assert sum(r.dropped for r in osie_data) == 0


def test_osie_fixations_match_the_raw_mat_file(osie_data):
    # read entry 2 (1003.jpg), subject 4 directly, independently of the loader
    raw = scipy.io.loadmat(shared_data() / "osie" / "eye" / "fixations.mat")["fixations"]
    entry = raw[2, 0]
    assert entry["img"][0, 0][0] == "1003.jpg"
    subject = entry["subjects"][0, 0][4, 0]
    xs, ys = subject["fix_x"][0, 0].ravel(), subject["fix_y"][0, 0].ravel()
    durations = subject["fix_duration"][0, 0].ravel()
    record = osie_data.by_id("1003")
    mine = record.per_observer()[4]
    np.testing.assert_allclose(mine[:, 0], ys - 1.0)  # 1-based y -> 0-based row
    np.testing.assert_allclose(mine[:, 1], xs - 1.0)  # 1-based x -> 0-based column
    np.testing.assert_allclose(record.durations[record.observer == 4], durations)
    total = sum(s[0]["fix_x"][0, 0].size for s in entry["subjects"][0, 0])
    assert len(record.fixations) == total


def test_osie_fixation_mask_and_image(osie_data):
    record = osie_data.by_id("1001")
    mask = record.fixation_mask()
    assert mask.shape == (1, 1, 600, 800) and mask.dtype == torch.bool
    pixels = {(int(np.floor(r + 0.5)), int(np.floor(c + 0.5))) for r, c in record.fixations}
    assert int(mask.sum()) == len(pixels)  # duplicates on one pixel marked once
    r, c = next(iter(pixels))
    assert mask[0, 0, r, c]
    image = record.load()
    assert image.shape == (1, 3, 600, 800) and 0 <= image.min() and image.max() <= 1
    assert record.load(224).shape == (1, 3, 224, 224)


def test_osie_checksums_match_the_real_files():
    sums = osie.osie_checksums()
    assert len(sums) == 501
    folder = shared_data() / "osie"
    for name in ["eye/fixations.mat", "stimuli/1001.jpg", "stimuli/1500.jpg"]:
        assert sums[name] == "sha256:" + hashlib.sha256((folder / name).read_bytes()).hexdigest()
    # the MD5 pysaliency's OSIE loader uses for this file
    assert hashlib.md5((folder / "eye/fixations.mat").read_bytes()).hexdigest() == "8efdf6fe66f38b6e70f854c7ff45aa70"


@pytest.mark.slow
def test_download_osie_from_a_local_mirror(tmp_path):
    mirror = (shared_data() / "osie").as_uri() + "/"
    target = download_osie(tmp_path, base_url=mirror, progress=False)
    assert target == tmp_path / "osie"
    assert len(list((target / "stimuli").glob("*.jpg"))) == 500
    data = load_osie(tmp_path, image_ids=["1001", "1499"], download=False)
    assert [r.image_id for r in data] == ["1001", "1499"]
    calls = []  # a second call finds every file with the right digest and downloads nothing
    download_osie(tmp_path, opener=lambda url: calls.append(url), progress=False)
    assert calls == []


def _subject(xs, ys):
    return {
        "fix_x": np.array([xs], dtype=float),
        "fix_y": np.array([ys], dtype=float),
        "fix_duration": np.full((1, len(xs)), 200, dtype=np.uint16),
    }


def _fake_osie(root, subjects_per_image, image_size=(40, 30)):
    """OSIE layout with the original .mat structure (cell of structs) and small images."""
    folder = root / "osie"
    (folder / "stimuli").mkdir(parents=True)
    (folder / "eye").mkdir()
    cells = np.empty((len(subjects_per_image), 1), dtype=object)
    for i, subjects in enumerate(subjects_per_image):
        name = f"{1001 + i}.jpg"
        Image.new("RGB", image_size, (100, 150, 200)).save(folder / "stimuli" / name)
        cell = np.empty((len(subjects), 1), dtype=object)
        for j, s in enumerate(subjects):
            cell[j, 0] = s
        cells[i, 0] = {"img": name, "subjects": cell}
    scipy.io.savemat(folder / "eye" / "fixations.mat", {"fixations": cells})
    return folder


def test_osie_documented_handling(tmp_path):
    # image 40 wide, 30 high; the second subject's last fixation lies outside (x = 45)
    subjects = [_subject([1, 40], [1, 30]), _subject([20, 45], [15, 10])]
    _fake_osie(tmp_path, [subjects])
    with pytest.raises(ValueError, match="fewer than min_observers=15"):
        load_osie(tmp_path, download=False)
    data = load_osie(tmp_path, download=False, min_observers=2)
    record = data[0]
    assert record.size == (30, 40) and record.dropped == 1
    np.testing.assert_allclose(record.fixations, [[0, 0], [29, 39], [14, 19]])
    np.testing.assert_array_equal(record.observer, [0, 0, 1])
    with pytest.raises(ValueError, match="outside the 40x30 image"):
        load_osie(tmp_path, download=False, min_observers=2, outside="error")
    with pytest.raises(ValueError, match="unknown OSIE image"):
        load_osie(tmp_path, download=False, min_observers=2, image_ids=["999"])


def test_osie_unreadable_and_absent(tmp_path, monkeypatch):
    folder = _fake_osie(tmp_path, [[_subject([5], [5])]])
    (folder / "eye" / "fixations.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(ValueError, match="cannot read the MATLAB file"):
        load_osie(tmp_path, download=False, min_observers=1)
    with pytest.raises(FileNotFoundError, match="FOVEX_DATA"):
        load_osie(tmp_path / "nowhere", download=False)
    monkeypatch.setenv("FOVEX_DATA", str(tmp_path / "elsewhere"))
    assert dl.data_root() == tmp_path / "elsewhere"
    assert osie.osie_dir() == tmp_path / "elsewhere" / "osie"


def test_data_root_finds_the_folder_that_holds_the_data(tmp_path, monkeypatch):
    """One lookup for every caller: root, else $FOVEX_DATA, then fallbacks, then the default cache."""
    monkeypatch.setattr(dl, "DEFAULT_ROOT", tmp_path / "cache")
    monkeypatch.delenv("FOVEX_DATA", raising=False)
    here, there = tmp_path / "here", tmp_path / "there"
    (there / "osie" / "stimuli").mkdir(parents=True)
    assert dl.data_root() == tmp_path / "cache"  # no check asked: where downloads go
    assert dl.data_root(contains="osie/stimuli", fallbacks=[here, there]) == there
    monkeypatch.setenv("FOVEX_DATA", str(here))  # $FOVEX_DATA first, but it lacks the data: next one
    assert dl.data_root(contains="osie/stimuli", fallbacks=[there]) == there
    with pytest.raises(FileNotFoundError, match=r"osie/stimuli.*here.*data_dir= or the environment variable"):
        dl.data_root(here, contains="osie/stimuli", fallbacks=[there], argument="data_dir")  # explicit: no search
    (tmp_path / "cache").mkdir()
    monkeypatch.chdir(tmp_path / "cache")
    assert dl.data_root("there", contains="osie/stimuli", bases=[tmp_path]) == tmp_path / "there"  # relative
    with pytest.raises(TypeError, match="root must be a path"):
        dl.data_root(3)


# --------------------------------------------------------------------------- MIT1003 (fabricated)

MIT_IMAGES = {
    "i05june05_static_street_boston_p1010764": ((30, 48), [(3, 4), (20, 40), (29, 0)]),
    "istatic_outdoor_street_city": ((40, 25), [(10, 12), (35, 20)]),
}


def _jpeg_bytes(array, quality=100):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality, subsampling=0)
    return buffer.getvalue()


def _mit_archives(folder: Path):
    """ALLSTIMULI.zip and ALLFIXATIONMAPS.zip in the official layout, small images."""
    folder.mkdir(parents=True, exist_ok=True)
    with (
        zipfile.ZipFile(folder / "ALLSTIMULI.zip", "w") as stim,
        zipfile.ZipFile(folder / "ALLFIXATIONMAPS.zip", "w") as maps,
    ):
        stim.writestr("ALLSTIMULI/", "")
        for name, ((height, width), points) in MIT_IMAGES.items():
            rgb = np.full((height, width, 3), 120, dtype=np.uint8)
            stim.writestr(f"ALLSTIMULI/{name}.jpeg", _jpeg_bytes(rgb))
            fix = np.zeros((height, width), dtype=np.uint8)
            for r, c in points:
                fix[r, c] = 255
            maps.writestr(f"ALLFIXATIONMAPS/{name}_fixPts.jpg", _jpeg_bytes(fix))
            maps.writestr(f"ALLFIXATIONMAPS/{name}_fixMap.jpg", _jpeg_bytes(fix, 90))
    return {
        n: "sha256:" + hashlib.sha256((folder / n).read_bytes()).hexdigest()
        for n in ("ALLSTIMULI.zip", "ALLFIXATIONMAPS.zip")
    }


def test_mit1003_fabricated_archive(tmp_path, monkeypatch):
    sums = _mit_archives(tmp_path / "server")
    monkeypatch.setattr(
        mit1003,
        "MIT1003_ARCHIVES",
        {"ALLSTIMULI.zip": ("ALLSTIMULI", sums["ALLSTIMULI.zip"]), "ALLFIXATIONMAPS.zip": ("ALLFIXATIONMAPS", None)},
    )  # no published digest: recorded on first use
    base = (tmp_path / "server").as_uri() + "/"
    target = download_mit1003(tmp_path / "data", base_url=base, progress=False)
    assert (target / "SHA256SUMS").read_text().count(sums["ALLFIXATIONMAPS.zip"].split(":")[1]) == 1
    assert not (target / "ALLSTIMULI.zip").exists()  # archives removed after extraction
    data = load_mit1003(tmp_path / "data", download=False)
    assert [r.image_id for r in data] == sorted(MIT_IMAGES)
    for record in data:
        (height, width), points = MIT_IMAGES[record.image_id]
        assert record.size == (height, width)
        assert sorted(map(tuple, record.fixations.astype(int).tolist())) == sorted(points)
        assert not record.has_observers and np.isnan(record.durations).all()
        assert record.load().shape == (1, 3, height, width)
        assert record.extra["fixation_map"].is_file()
    with pytest.raises(ValueError, match="per-observer data are unavailable"):
        data[0].per_observer()


def test_mit1003_tofu_checksum_and_mismatches(tmp_path, monkeypatch):
    sums = _mit_archives(tmp_path / "server")
    monkeypatch.setattr(
        mit1003,
        "MIT1003_ARCHIVES",
        {"ALLSTIMULI.zip": ("ALLSTIMULI", "md5:" + "0" * 32), "ALLFIXATIONMAPS.zip": ("ALLFIXATIONMAPS", None)},
    )
    base = (tmp_path / "server").as_uri() + "/"
    with pytest.raises(ChecksumError, match="does not match"):
        download_mit1003(tmp_path / "data", base_url=base, progress=False)
    assert not list((tmp_path / "data" / "mit1003").glob("*.zip*"))  # nothing half-written
    # a recorded digest for the unverified archive is enforced on the next download
    folder = tmp_path / "data" / "mit1003"
    (folder / "SHA256SUMS").write_text(f"{'1' * 64}  ALLFIXATIONMAPS.zip\n")
    monkeypatch.setattr(
        mit1003,
        "MIT1003_ARCHIVES",
        {"ALLSTIMULI.zip": ("ALLSTIMULI", sums["ALLSTIMULI.zip"]), "ALLFIXATIONMAPS.zip": ("ALLFIXATIONMAPS", None)},
    )
    with pytest.raises(ChecksumError):
        download_mit1003(tmp_path / "data", base_url=base, progress=False)


def test_mit1003_bad_layouts(tmp_path):
    _mit_archives(tmp_path / "server")
    folder = tmp_path / "data" / "mit1003"
    for archive, top in (("ALLSTIMULI.zip", "ALLSTIMULI"), ("ALLFIXATIONMAPS.zip", "ALLFIXATIONMAPS")):
        extract_zip(tmp_path / "server" / archive, folder, folders=(top,))
    name = sorted(MIT_IMAGES)[0]
    (folder / "ALLFIXATIONMAPS" / f"{name}_fixPts.jpg").unlink()
    with pytest.raises(ValueError, match="do not pair up"):
        load_mit1003(tmp_path / "data", download=False)
    (folder / "ALLFIXATIONMAPS" / f"{name}_fixPts.jpg").write_bytes(_jpeg_bytes(np.zeros((5, 5), np.uint8)))
    with pytest.raises(ValueError, match="fixation map is 5x5"):
        load_mit1003(tmp_path / "data", download=False)
    with pytest.raises(FileNotFoundError, match="MIT1003 not found"):
        load_mit1003(tmp_path / "empty", download=False)


# --------------------------------------------------------------------------- downloads


def test_download_file_checks_and_is_atomic(tmp_path):
    payload = b"fixations " * 1000
    source = tmp_path / "source.bin"
    source.write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    dest = tmp_path / "out" / "file.bin"
    assert download_file(source.as_uri(), dest, f"sha256:{sha}", progress=False) == sha
    assert dest.read_bytes() == payload
    md5 = hashlib.md5(payload).hexdigest()
    assert download_file(source.as_uri(), tmp_path / "md5.bin", f"md5:{md5}", progress=False) == sha
    # an existing good file is kept: the opener is never called
    download_file("http://unused", dest, f"sha256:{sha}", opener=lambda url: pytest.fail("downloaded"), progress=False)
    # a wrong digest raises and leaves neither the destination nor a partial file
    with pytest.raises(ChecksumError):
        download_file(source.as_uri(), tmp_path / "bad" / "file.bin", "sha256:" + "0" * 64, progress=False)
    assert list((tmp_path / "bad").iterdir()) == []
    # no checksum needs an explicit opt-in
    with pytest.raises(ValueError, match="allow_unverified"):
        download_file(source.as_uri(), tmp_path / "x.bin", None)
    assert download_file(source.as_uri(), tmp_path / "x.bin", None, allow_unverified=True, progress=False) == sha


def test_interrupted_download_leaves_nothing(tmp_path):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 100:
                raise ConnectionResetError("connection lost")
            return super().read(64)

    dest = tmp_path / "file.bin"
    with pytest.raises(dl.DownloadError, match="http://example/file") as info:  # retried, then names the URL
        download_file(
            "http://example/file",
            dest,
            "sha256:" + "0" * 64,
            opener=lambda url: Broken(b"x" * 1000),
            progress=False,
            retries=1,
            backoff=0,
        )
    assert isinstance(info.value.__cause__, ConnectionResetError)
    assert list(tmp_path.iterdir()) == []


def test_checksum_parsing_and_unsafe_zip(tmp_path):
    assert parse_checksum("SHA256:" + "A" * 64) == ("sha256", "a" * 64)
    for bad in ("abc", "sha1:" + "0" * 40, "md5:123", "sha256:" + "g" * 64):
        with pytest.raises(ValueError):
            parse_checksum(bad)
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ALLSTIMULI/a.jpeg", b"x")
        z.writestr("ALLSTIMULI/../../escape.txt", b"x")
    with pytest.raises(ValueError, match="refusing"):
        extract_zip(archive, tmp_path / "dest", folders=("ALLSTIMULI",))
    assert not (tmp_path / "escape.txt").exists()
    (tmp_path / "broken.zip").write_bytes(b"PK not really")
    with pytest.raises(ValueError, match="not a readable zip"):
        extract_zip(tmp_path / "broken.zip", tmp_path / "dest", folders=("ALLSTIMULI",))


def test_fixation_mask_refuses_fixations_off_the_stimulus():
    """A fixation at row -1 used to wrap around to the last row without a word."""
    from pathlib import Path

    import numpy as np
    import pytest

    from fovex_lib.gaze.records import GazeRecord

    def record(points):
        points = np.asarray(points, dtype=np.float64)
        return GazeRecord(
            "x",
            Path("x.jpg"),
            (4, 5),
            points,
            np.zeros(len(points), dtype=np.int64),
            np.full(len(points), np.nan),
            num_observers=1,
        )

    mask = record([[0.0, 0.0], [3.4, 4.4]]).fixation_mask()
    assert mask.sum() == 2 and mask[0, 0, 3, 4]
    for bad in ([-0.6, 1.0], [1.0, 4.6], [3.5, 0.0]):
        with pytest.raises(ValueError, match="outside the 4x5 stimulus"):
            record([[1.0, 1.0], bad]).fixation_mask()

import pytest

from axis.specs.units import format_duration, format_size, human_size, parse_duration, parse_size


@pytest.mark.parametrize("text,expected", [
    ("32G", 32 * 2**30), ("8Gi", 8 * 2**30), ("512Mi", 512 * 2**20), ("512M", 512 * 2**20),
    ("1.5Gi", 3 * 2**29), ("1GB", 10**9), ("100kB", 100_000), ("2T", 2 * 2**40), ("4096", 4096),
    (1024, 1024), ("0", 0),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "G", "8Q", "-1G", "8 G B", "1e9", True, 1.5, [], -3])
def test_parse_size_rejects(bad):
    with pytest.raises(ValueError):
        parse_size(bad)


def test_size_canonical_form_makes_equal_sizes_equal():
    assert format_size(parse_size("32G")) == format_size(parse_size("32Gi")) == "32Gi"
    assert format_size(parse_size("1536Mi")) == "1536Mi"
    assert format_size(1000) == "1000"
    assert human_size(int(29.8 * 2**30)) == "29.8Gi"


@pytest.mark.parametrize("text,expected", [
    ("45m", 2700), ("1h30m", 5400), ("90s", 90), ("2d", 172800), ("1h", 3600), (600, 600), ("1d2h3m4s", 93784),
])
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["", "45", "m", "45x", "1h 30m x", "0m", "h1", True, 0, -5, "30m1h2"])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_duration_round_trip():
    for seconds in (1, 59, 60, 3600, 5400, 93784):
        assert parse_duration(format_duration(seconds)) == seconds

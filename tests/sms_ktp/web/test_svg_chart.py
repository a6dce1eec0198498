"""The server-drawn bar chart: well-formed SVG, honest bar heights, escaped text, stable output."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

from sms_ktp.web.svg_chart import bar_chart, day_label, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"
START = date(2026, 11, 1)


def days(*counts: int) -> list[tuple[date, int]]:
    return [(START + timedelta(days=index), count) for index, count in enumerate(counts)]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything that is not well-formed XML


def bars(root: ET.Element) -> list[ET.Element]:
    return root.findall(f"{SVG}rect")


def test_bars_are_proportional_to_the_counts():
    root = parse(bar_chart(days(2, 4, 0, 8, 1), title="Pendaftaran", chart_id="c"))

    heights = [float(bar.get("height")) for bar in bars(root)]
    assert len(heights) == 5
    assert heights[2] == 0
    for height, count in zip(heights, (2, 4, 0, 8, 1), strict=True):
        assert abs(height - heights[3] * count / 8) < 0.02
    # Bars stand on one base line and go left to right, one per day.
    bottoms = {round(float(bar.get("y")) + float(bar.get("height")), 1) for bar in bars(root)}
    assert len(bottoms) == 1
    xs = [float(bar.get("x")) for bar in bars(root)]
    assert xs == sorted(xs) and len(set(xs)) == 5


def test_each_bar_and_the_chart_say_what_they_show():
    root = parse(bar_chart(days(3, 7), title="Kartu dicetak", chart_id="printed"))

    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "printed-title printed-desc"
    assert root.find(f"{SVG}title").text == "Kartu dicetak"
    assert root.find(f"{SVG}title").get("id") == "printed-title"
    description = root.find(f"{SVG}desc").text
    assert "jumlah 10" in description and "tertinggi 7 pada 2 Nov 2026" in description
    assert [bar.find(f"{SVG}title").text for bar in bars(root)] == ["1 Nov 2026: 3",
                                                                    "2 Nov 2026: 7"]


def test_axis_labels_name_the_scale_and_the_latest_day():
    points = days(*range(30))  # up to 29: the axis ends at a round 50
    root = parse(bar_chart(points, title="t", chart_id="c", label_every=7))

    labels = [text.text for text in root.findall(f"{SVG}text")]
    assert labels[:3] == ["0", "25", "50"]
    assert labels[3:] == ["2 Nov", "9 Nov", "16 Nov", "23 Nov", "30 Nov"]


def test_text_is_escaped():
    svg = bar_chart(days(1), title='<script>alert("x")</script> & co', chart_id='a"b<')

    root = parse(svg)
    assert "<script>" not in svg
    assert root.find(f"{SVG}title").text == '<script>alert("x")</script> & co'
    assert root.get("aria-labelledby") == 'a"b<-title a"b<-desc'


def test_no_data_is_an_empty_chart_saying_so():
    for points in ([], days(0, 0, 0)):
        root = parse(bar_chart(points, title="Kosong", chart_id="e"))
        assert all(float(bar.get("height")) == 0 for bar in bars(root))
        assert len(bars(root)) == len(points)
    empty = parse(bar_chart([], title="Kosong", chart_id="e"))
    assert "Belum ada data" in [text.text for text in empty.findall(f"{SVG}text")]
    assert empty.find(f"{SVG}desc").text == "Belum ada data."


def test_the_same_data_draws_the_same_bytes():
    points = days(5, 1, 12, 0, 3)
    assert bar_chart(points, title="t", chart_id="c") == bar_chart(list(points), title="t",
                                                                   chart_id="c")


def test_big_numbers_are_written_the_indonesian_way():
    root = parse(bar_chart(days(12_345), title="t", chart_id="c"))
    assert root.findall(f"{SVG}text")[-2].text == "20.000"
    assert bars(root)[0].find(f"{SVG}title").text == "1 Nov 2026: 12.345"


def test_round_axis_maxima_and_day_labels():
    assert [nice_ceiling(n) for n in (0, 1, 2, 3, 7, 10, 11, 26, 499, 501)] == [
        1, 1, 2, 5, 10, 10, 20, 50, 500, 1000]
    assert day_label(date(2026, 8, 17)) == "17 Agu"
    assert day_label(date(2026, 5, 1), year=True) == "1 Mei 2026"


def test_the_value_axis_has_no_half_that_is_not_a_whole_number():
    root = parse(bar_chart(days(3, 4), title="t", chart_id="c"))  # axis up to 5
    assert [text.text for text in root.findall(f"{SVG}text")][:2] == ["0", "5"]
